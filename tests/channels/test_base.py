"""The channels seam: the app picks the KernelChannels class and the registry builds every
kernel's channels with it; nothing else decides between local and remote kernels."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_sidecar_ext.channels.base import KernelChannels
from jupyter_sidecar_ext.channels.gateway import GatewayChannels
from jupyter_sidecar_ext.channels.zmq import ZmqChannels


class OwnChannels(ZmqChannels):
    """Local channels of a class the user configured."""


def test_both_transports_implement_the_seam() -> None:
    for transport in (ZmqChannels, GatewayChannels):
        assert issubclass(transport, KernelChannels)
        assert not transport.__abstractmethods__  # every part of the seam implemented


async def test_local_kernels_get_zmq_channels(sc_start_kernel: Any, sc_registry: Any) -> None:
    kernel_id = await sc_start_kernel()
    sidecar = await sc_registry.ensure(kernel_id)
    assert type(sidecar.channels) is ZmqChannels
    assert sidecar.channels.connected and sidecar.receiving


@pytest.mark.parametrize(
    "jp_server_config",
    [{"local_channels_class": f"{__name__}.OwnChannels"}],
    indirect=True,
)
async def test_the_configured_class_makes_every_kernels_channels(
    sc_start_kernel: Any, sc_registry: Any, sc_connect: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    replies = await client.collect(await client.execute("print('through it')", cell_id="c"))
    texts = [m["content"]["text"] for m in replies if m["header"]["msg_type"] == "stream"]
    assert "".join(texts) == "through it\n"  # print's pieces may leave apart under load
    sidecar = sc_registry.find(kernel_id)
    assert isinstance(sidecar.channels, OwnChannels)
    cell = sidecar.notebook.get("c")
    assert cell is not None and cell.status == "ok"
