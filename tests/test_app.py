"""The extension app: which kernel websocket connection class the server ends up using."""

from __future__ import annotations

from typing import Any

import pytest
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from traitlets.config import Config

from jupyter_sidecar_ext.tap.local import SidecarKernelConnection


class CustomConnection(ZMQChannelsWebsocketConnection):
    """A connection class a user configured on purpose."""


def test_installed_config_serves_kernels_through_the_sidecar_connection(
    jp_serverapp: Any,
) -> None:
    settings = jp_serverapp.web_app.settings
    assert settings["kernel_websocket_connection_class"] is SidecarKernelConnection


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest) -> Config:
    """As installed, plus whatever ServerApp settings a test passes as its param."""
    server = {"jpserver_extensions": {"jupyter_sidecar_ext": True}}
    return Config({"ServerApp": {**server, **getattr(request, "param", {})}})


CUSTOM = {"kernel_websocket_connection_class": f"{__name__}.CustomConnection"}


@pytest.mark.parametrize("jp_server_config", [CUSTOM], indirect=True)
def test_a_connection_class_the_user_configured_is_kept(jp_serverapp: Any) -> None:
    settings = jp_serverapp.web_app.settings
    assert settings["kernel_websocket_connection_class"] is CustomConnection
