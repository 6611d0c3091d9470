"""`jupyter sidecar execute --existing` with a malformed connection file: one line, exit 2."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jupyter_client.blocking.client import BlockingKernelClient

from jupyter_sidecar_ext.cli.client import CLIError
from jupyter_sidecar_ext.cli.connection import PORTS, parse_connection_info

GOOD: dict[str, Any] = {
    "shell_port": 50001,
    "iopub_port": 50002,
    "stdin_port": 50003,
    "control_port": 50004,
    "hb_port": 50005,
    "ip": "127.0.0.1",
    "key": "a0b1c2",
    "transport": "tcp",
    "signature_scheme": "hmac-sha256",
    "kernel_name": "python3",
}
BAD = {
    "a JSON array": ("[]", "is a JSON list, not an object"),
    "an empty object": ("{}", "has no shell_port"),
    "a port that is text": (
        json.dumps({**GOOD, "shell_port": "abc"}),
        "has shell_port 'abc': expected 1-65535",
    ),
    "an unknown signature scheme": (
        json.dumps({**GOOD, "signature_scheme": "hmac-nope"}),
        "has signature_scheme 'hmac-nope': expected e.g. 'hmac-sha256'",
    ),
    "not JSON": ("{shell_port: 1", "is not JSON"),
}
FUZZ = settings.get_profile("sidecar-fuzz")  # tests/conftest.py


@pytest.mark.parametrize("case", list(BAD))
async def test_a_malformed_connection_file_is_one_line_and_exit_2(
    case: str, jupyter_sidecar: Any, tmp_path: Path
) -> None:
    text, problem = BAD[case]
    path = tmp_path / "kernel-bad.json"
    path.write_text(text)
    process = await jupyter_sidecar("execute", "--existing", str(path), "1")
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert err.decode().splitlines() == [f"error: connection file {path} {problem}"]
    assert out == b""


def test_a_good_connection_file_is_what_jupyter_client_reads() -> None:
    info = parse_connection_info(json.dumps(GOOD), "k.json")
    assert info == {k: v for k, v in GOOD.items() if k != "kernel_name"}
    client = BlockingKernelClient()
    client.load_connection_info(info)
    assert client.shell_port == 50001 and client.session.key == b"a0b1c2"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from([*PORTS, "ip", "key", "transport", "signature_scheme"])


@st.composite
def connection_files(draw: st.DrawFn) -> bytes:
    """A good file with a few fields replaced or removed, any JSON, or any bytes."""
    kind = draw(st.sampled_from(["mutated", "json", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(JSON)).encode()
    info = dict(GOOD)
    for field in draw(st.lists(FIELDS, min_size=1, max_size=3)):
        if draw(st.booleans()):
            info.pop(field, None)
        else:
            info[field] = draw(JSON | st.sampled_from(["hmac-md5", "sha256", "hmac-", "ipc"]))
    return json.dumps(info).encode()


@settings(FUZZ)
@given(connection_files())
def test_fuzz_a_connection_file_is_accepted_whole_or_refused_in_one_line(text: bytes) -> None:
    try:
        info = parse_connection_info(text, "kernel.json")
    except CLIError as error:
        assert error.status == 2
        message = str(error)
        assert message.startswith("connection file kernel.json ") and "\n" not in message
        assert len(message) < 200
        return
    client = BlockingKernelClient()
    client.load_connection_info(info)  # jupyter_client takes all of it
    client.session.sign([b"{}"])
    assert all(1 <= getattr(client, port) <= 65535 for port in PORTS) or info["transport"] == "ipc"
