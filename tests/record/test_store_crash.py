"""A server killed with SIGKILL mid-output serves, after a restart, what it had stored."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.session import Session
from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect
from ui.harness import LabServer

from jupyter_sidecar_ext.protocol.frames import V1_SUBPROTOCOL

CELL = (
    "import time\nfor i in range(2000):\n    print(f'line {i}', flush=True)\n    time.sleep(0.01)\n"
)


@pytest.fixture
def lab_server(tmp_path: Path) -> Iterator[LabServer]:
    server = LabServer(base_dir=tmp_path)
    server.start()
    yield server
    server.stop(graceful=False)


def send_execute(server: LabServer, kernel_id: str, code: str, cell_id: str) -> None:
    """Send one execute_request over a v1 kernel websocket, as JupyterLab would."""

    async def send() -> None:
        url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
        request = HTTPRequest(url, headers={"Authorization": f"token {server.token}"})
        ws = await websocket_connect(request, subprotocols=[V1_SUBPROTOCOL])
        session = Session(key=b"")
        msg = session.msg("execute_request", content={"code": code}, metadata={"cellId": cell_id})
        await ws.write_message(serialize_msg_to_ws_v1(msg, "shell", session.pack), binary=True)
        ws.close()

    asyncio.run(send())


def stored_text(database: Path, kernel_id: str, cell_id: str) -> str:
    """What the store holds for a cell right now (read-only, as another process would)."""
    if not database.exists():
        return ""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        try:
            row = db.execute(
                "SELECT data FROM cells WHERE kernel_id = ? AND cell_id = ?", (kernel_id, cell_id)
            ).fetchone()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return ""  # the file exists, its schema is being created
            raise
    if row is None:
        return ""
    outputs: list[dict[str, Any]] = json.loads(row[0])["outputs"]
    return "".join(output.get("text", "") for output in outputs)


def test_what_was_stored_before_a_sigkill_is_served_after_restart(lab_server: LabServer) -> None:
    status, kernel = lab_server.request("POST", "api/kernels", {"name": "python3"})
    assert status == 201
    kernel_id = kernel["id"]
    send_execute(lab_server, kernel_id, CELL, "crash")

    database = lab_server.data_dir / "jupyter_sidecar_ext" / "outputs.sqlite"
    deadline = time.monotonic() + 60
    while stored_text(database, kernel_id, "crash").count("\n") < 50:
        assert time.monotonic() < deadline, "the store never received 50 lines"
        time.sleep(0.05)  # polling another process's file: there is no event to wait on
    lab_server.stop(graceful=False)
    before = stored_text(database, kernel_id, "crash")
    assert before.startswith("line 0\nline 1\n")

    lab_server.start()
    status, notebook = lab_server.request("GET", f"api/sidecar/kernels/{kernel_id}/notebook")
    assert status == 200
    assert notebook["alive"] is False
    (cell,) = notebook["cells"]
    assert cell["status"] == "aborted" and cell["gap"] is True  # it never finished
    after = "".join(output.get("text", "") for output in cell["outputs"])
    assert after == before
    status, kernels = lab_server.request("GET", "api/sidecar/kernels")
    assert [k["execution_state"] for k in kernels if k["kernel_id"] == kernel_id] == ["gone"]
