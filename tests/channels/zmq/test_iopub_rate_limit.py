"""The server's iopub rate limit still protects clients; the recorder is not subject to it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from traitlets.config import Config

from jupyter_sidecar_ext.pytest_plugin import SERVER_CONFIG


@pytest.fixture
def jp_server_config() -> Config:
    """Tight iopub rate limits, to prove the server still applies them to clients."""
    config = Config(json.loads(json.dumps(SERVER_CONFIG)))
    config.ZMQChannelsWebsocketConnection.iopub_msg_rate_limit = 20.0
    config.ZMQChannelsWebsocketConnection.rate_limit_window = 1.0
    return config


async def test_rate_limit_applies_to_clients_not_to_the_recorder(
    sc_start_kernel: Any, sc_connect: Any, sc_registry: Any, sc_wait_until: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    code = "import sys\nfor i in range(300):\n    print(i, flush=True)\n"
    msg_id = await client.execute(code, cell_id="flood")
    replies = await client.collect(msg_id)
    texts = [m["content"]["text"] for m in replies if m["header"]["msg_type"] == "stream"]
    client_lines = "".join(t for t in texts if "rate exceeded" not in t).splitlines()
    assert any("IOPub message rate exceeded" in text for text in texts)
    assert len(client_lines) < 300

    def recorded() -> bool:
        cell = sc_registry.find(kernel_id).notebook.get("flood")
        return cell is not None and cell.status == "ok" and cell.idle  # outputs too

    await sc_wait_until(recorded, what="the flood to be recorded")
    (output,) = sc_registry.find(kernel_id).notebook.get("flood").outputs
    assert output["text"] == "".join(f"{i}\n" for i in range(300))
