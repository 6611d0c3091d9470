"""Execute answers stay bounded by `max_output_bytes` whatever the output and the client.

A real kernel prints 200 MB; the server (in this process) is measured by RSS. The kernel
writes at a steady pace (as a long job does): a kernel that outpaces the recorder queues its
messages in the iopub socket's receive buffer instead (channels/zmq/iopub.py, unbounded by
design so that nothing is lost), which is not what these tests are about.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from jupyter_sidecar_ext.schemas.api import ExecuteResult, StreamLine

MAX_OUTPUT = 1_000_000
TOTAL = 200 * 2**20
CHUNK = 256 * 1024
# Three budgets (the recorded cell, the lines waiting, the answer being written) plus what
# the process allocates around 256 KB messages (decoding, allocator slack).
SLACK = 64 * 2**20
BOUND = 3 * MAX_OUTPUT + SLACK
# ipykernel sends what was written within 0.2 s as one message: flush each chunk, and pace.
BIG_CELL = f"""
import sys, time
chunk = ("x" * 1023 + "\\n") * {CHUNK // 1024}
for i in range({TOTAL // CHUNK}):
    sys.stdout.write(chunk)
    sys.stdout.flush()
    time.sleep(0.004)
sys.stdout.write("the end\\n")  # one write, one stream message: print's '\\n' can leave apart
"""
BOUNDED = [{"SidecarRegistry": {"max_output_bytes": MAX_OUTPUT}}]
pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux /proc")


def _libc() -> Any:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def resident() -> int:
    """This process's resident bytes now, after returning freed memory to the system (so
    what is counted is what is held)."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
    return _status("VmRSS")


def peak() -> int:
    return _status("VmHWM")


def reset_peak() -> None:
    resident()
    Path("/proc/self/clear_refs").write_text("5")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


def server_sockets(server_port: int, client_port: int) -> int:
    """This process's server-side sockets of the connection from `client_port`."""
    own = {
        link.readlink().name[len("socket:[") : -1]
        for link in Path("/proc/self/fd").iterdir()
        if _is_socket(link)
    }
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local = int(fields[1].rsplit(":", 1)[1], 16)
        remote = int(fields[2].rsplit(":", 1)[1], 16)
        if (local, remote) == (server_port, client_port) and fields[9] in own:
            count += 1
    return count


def _is_socket(link: Path) -> bool:
    try:
        return str(link.readlink()).startswith("socket:[")
    except OSError:
        return False


class SilentClient:
    """An NDJSON execute client that sends its request and then reads nothing."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.port: int = writer.get_extra_info("sockname")[1]

    @classmethod
    async def post(
        cls, app: Any, port: int, base_url: str, kernel_id: str, body: Any
    ) -> SilentClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        data = json.dumps(body).encode()
        head = (
            f"POST {base_url}api/sidecar/kernels/{kernel_id}/execute HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            f"Authorization: token {app.identity_provider.token}\r\n"
            "Accept: application/x-ndjson\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        writer.write(head.encode() + data)
        await writer.drain()
        return cls(reader, writer)

    async def read_lines(self) -> list[dict[str, Any]]:
        """Everything, at last: the chunked body's lines up to the final chunk."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower()
        body = bytearray()
        while True:
            size = int((await self.reader.readuntil(b"\r\n"))[:-2], 16)
            body += (await self.reader.readexactly(size + 2))[:-2]
            if not size:
                break
        return [json.loads(line) for line in body.decode().splitlines()]

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
def silent_client(jp_serverapp: Any, jp_http_port: int, jp_base_url: str) -> Any:
    clients: list[SilentClient] = []

    async def post(kernel_id: str, **body: Any) -> SilentClient:
        client = await SilentClient.post(jp_serverapp, jp_http_port, jp_base_url, kernel_id, body)
        clients.append(client)
        return client

    yield post
    for client in clients:
        client.close()


async def run_after(sc_execute: Any, kernel_id: str) -> None:
    """Every iopub message of what ran before has been recorded once a later cell answered
    (iopub is one ordered stream; the earlier cell's reply may come well before them)."""
    assert (await sc_execute(kernel_id, code="'after'"))["status"] == "ok"


def assert_recorded_truncated(cell: dict[str, Any]) -> None:
    assert cell["status"] == "ok" and cell["truncated"]
    text = "".join(out["text"] for out in cell["outputs"] if out["output_type"] == "stream")
    assert "of output dropped]" in text and text.endswith("the end\n")
    assert MAX_OUTPUT // 2 < len(json.dumps(cell["outputs"])) < 2 * MAX_OUTPUT


@pytest.mark.parametrize("jp_server_config", BOUNDED, indirect=True)
async def test_a_client_that_never_reads_costs_the_server_a_bounded_amount(
    sc_start_kernel: Any,
    sc_execute: Any,
    sc_cell_finished: Any,
    sc_wait_until: Any,
    silent_client: Any,
    jp_http_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kernel_id = await sc_start_kernel()
    await sc_execute(kernel_id, code="1")
    reset_peak()
    before = resident()
    client = await silent_client(kernel_id, code=BIG_CELL, cell_id="big")
    await sc_cell_finished(kernel_id, "big", timeout=120)
    await run_after(sc_execute, kernel_id)
    cell = await sc_cell_finished(kernel_id, "big")  # now with all its outputs
    held = resident() - before
    assert held < BOUND, f"{held / 2**20:.0f} MB held while the client does not read"
    assert peak() - before < BOUND, f"peak {(peak() - before) / 2**20:.0f} MB"
    assert_recorded_truncated(cell)  # the recording went on in full

    caplog.set_level(logging.WARNING)
    client.close()  # the client gives up: the server lets go of the connection
    await sc_wait_until(
        lambda: server_sockets(jp_http_port, client.port) == 0, what="the server to close"
    )
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert (await sc_execute(kernel_id, code="'still fine'"))["status"] == "ok"


@pytest.mark.parametrize("jp_server_config", BOUNDED, indirect=True)
async def test_a_client_that_reads_late_gets_the_head_a_truncated_line_and_the_tail(
    sc_start_kernel: Any, sc_execute: Any, sc_cell_finished: Any, silent_client: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await silent_client(kernel_id, code=BIG_CELL, cell_id="big")
    await sc_cell_finished(kernel_id, "big", timeout=120)
    await run_after(sc_execute, kernel_id)
    lines = await client.read_lines()
    result = ExecuteResult.model_validate(lines[-1])
    assert result.status == "ok"
    reply = lines[-2]
    assert reply["msg_type"] == "execute_reply"
    for line in lines[:-2]:
        StreamLine.model_validate(line)
    truncated = [line for line in lines if line.get("type") == "truncated"]
    assert truncated and all(line["dropped_bytes"] > 0 for line in truncated)
    received = sum(len(json.dumps(line)) for line in lines)
    dropped = sum(line["dropped_bytes"] for line in truncated)
    assert received + dropped > TOTAL  # what was sent and what was dropped: everything
    assert lines[0]["msg_type"] == "status"  # the head ...
    texts = [line["content"]["text"] for line in lines if line.get("msg_type") == "stream"]
    assert texts[-1].endswith("the end\n")  # ... and the tail
    assert_recorded_truncated({**lines[-1], "truncated": True})  # the recorded outputs


@pytest.mark.parametrize("jp_server_config", BOUNDED, indirect=True)
async def test_a_json_answer_is_built_within_the_same_bound(
    sc_start_kernel: Any, sc_execute: Any
) -> None:
    kernel_id = await sc_start_kernel()
    await sc_execute(kernel_id, code="1")
    reset_peak()
    before = resident()
    result = await sc_execute(kernel_id, code=BIG_CELL, cell_id="big")
    assert peak() - before < BOUND, f"peak {(peak() - before) / 2**20:.0f} MB"
    assert result["status"] == "ok"
    assert_recorded_truncated({**result, "truncated": True})
