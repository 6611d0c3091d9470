"""A small HTTP client of the sidecar REST API for the `jupyter sidecar` commands.

It finds the server (`--url`, or the one running server `jupyter server list` would show),
authenticates with a token (`Authorization: token ...`, as JupyterLab's API clients do, so no
XSRF cookie is needed) and turns every failure into :class:`CLIError`: one line for the user.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ValidationError
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.websocket import WebSocketClientConnection, websocket_connect

from ..schemas.api import KernelList, describe

TOKEN_ENV = "JUPYTER_TOKEN"
NDJSON = "application/x-ndjson"
M = TypeVar("M", bound=BaseModel)
_FULL_KERNEL_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class CLIError(Exception):
    """A failure to report as one line (`error: ...`) with a non-zero exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ServerAddress:
    """Where a server listens (its URL including base_url, ending in "/") and its token."""

    url: str
    token: str


def _normalize(url: str) -> str:
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    return url if url.endswith("/") else url + "/"


def running_servers() -> list[dict[str, Any]]:
    """The servers `jupyter server list` shows (info files in the runtime dir, live pids)."""
    from jupyter_server.serverapp import list_running_servers

    return list(list_running_servers())


def find_server(url: str = "", token: str = "") -> ServerAddress:
    """The server to talk to: `url` if given, else the single running server.

    The token is `token`, else $JUPYTER_TOKEN, else the token the server wrote into its
    runtime info file (readable by the user who started it)."""
    token = token or os.environ.get(TOKEN_ENV, "")
    if url:
        url = _normalize(url)
        if not token:  # a running server at that URL can lend its token
            for info in running_servers():
                if _normalize(str(info.get("url", ""))) == url:
                    token = str(info.get("token") or "")
        return ServerAddress(url, token)
    servers = running_servers()
    if not servers:
        raise CLIError("no running Jupyter server found; start one or give --url (and --token)")
    if len(servers) > 1:
        urls = ", ".join(sorted(str(info.get("url", "?")) for info in servers))
        raise CLIError(f"{len(servers)} Jupyter servers are running ({urls}); pick one with --url")
    info = servers[0]
    return ServerAddress(_normalize(str(info["url"])), token or str(info.get("token") or ""))


def _error_message(code: int, body: bytes) -> str:
    """The server's `{"message": ...}` (or its reason), for one line."""
    message = ""
    try:
        payload = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        payload = None
    if isinstance(payload, dict):
        message = str(payload.get("message") or payload.get("reason") or "")
    if not message:
        message = body.decode("utf-8", "replace").strip().splitlines()[0] if body.strip() else ""
    return " ".join(message.split()) or "no details"


class SidecarClient:
    """JSON requests against one server; close() when done."""

    def __init__(self, server: ServerAddress, request_timeout: float = 60.0) -> None:
        self.server = server
        self.request_timeout = request_timeout
        self._http = AsyncHTTPClient(force_instance=True)

    def close(self) -> None:
        self._http.close()

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        url = self.server.url + path.lstrip("/")
        return f"{url}?{urlencode(query)}" if query else url

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {"Accept": "application/json", **extra}
        if self.server.token:
            headers["Authorization"] = f"token {self.server.token}"
        return headers

    def _fail(self, code: int, body: bytes, what: str) -> CLIError:
        message = _error_message(code, body)
        if code in (401, 403):
            hint = "give --token or set $JUPYTER_TOKEN" if not self.server.token else "bad token?"
            return CLIError(f"{what}: {message} (HTTP {code}; {hint})")
        return CLIError(f"{what}: {message} (HTTP {code})")

    def _unreachable(self, error: BaseException) -> CLIError:
        return CLIError(f"cannot reach the server at {self.server.url}: {error}")

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """The decoded JSON answer of one request; CLIError on any failure."""
        request = HTTPRequest(
            self.url(path, query),
            method=method,
            headers=self.headers(**({"Content-Type": "application/json"} if body else {})),
            body=None if body is None else json.dumps(body),
            request_timeout=timeout or self.request_timeout,
            allow_nonstandard_methods=True,
        )
        response = await self._fetch(request, f"{method} {path}")
        try:
            return json.loads(response.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise CLIError(f"{method} {path}: the server did not answer JSON") from None

    async def _fetch(self, request: HTTPRequest, what: str) -> HTTPResponse:
        try:
            return await self._http.fetch(request)
        except HTTPClientError as error:
            if error.code == 599:
                raise CLIError(f"{what}: timed out or cut off ({error})") from None
            body = error.response.body if error.response is not None else b""
            raise self._fail(error.code, body, what) from None
        except OSError as error:
            raise self._unreachable(error) from None

    async def get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        return await self.request("GET", path, query=query)

    async def get_as(self, model: type[M], path: str, query: dict[str, Any] | None = None) -> M:
        """The answer of `GET path` read as its API model (schemas.api)."""
        return read_answer(model, await self.get(path, query), f"GET {path}")

    async def stream(
        self,
        path: str,
        body: Any,
        on_item: Callable[[dict[str, Any]], None],
        timeout: float | None = None,
    ) -> None:
        """POST `body` asking for NDJSON and call `on_item` with each JSON line as it arrives.

        An error status is read whole and raised as CLIError; a line that is not a JSON
        object is an error too (the stream is not what was asked for)."""
        status: list[int] = []
        buffer = bytearray()
        error_body = bytearray()

        def on_header(line: str) -> None:
            if line.startswith("HTTP/"):
                status[:] = [int(line.split()[1])]

        def on_chunk(chunk: bytes) -> None:
            if status and status[0] >= 400:
                error_body.extend(chunk)
                return
            buffer.extend(chunk)
            while (end := buffer.find(b"\n")) >= 0:
                line = bytes(buffer[:end]).strip()
                del buffer[: end + 1]
                if line:
                    on_item(_json_line(line, path))

        request = HTTPRequest(
            self.url(path),
            method="POST",
            headers=self.headers(Accept=NDJSON, **{"Content-Type": "application/json"}),
            body=json.dumps(body),
            request_timeout=timeout or self.request_timeout,
            header_callback=on_header,
            streaming_callback=on_chunk,
        )
        try:
            await self._http.fetch(request)
        except HTTPClientError as error:
            if error.code == 599:
                raise CLIError(f"POST {path}: timed out or cut off ({error})") from None
            raise self._fail(error.code, bytes(error_body), f"POST {path}") from None
        except OSError as error:
            raise self._unreachable(error) from None
        if buffer.strip():
            on_item(_json_line(bytes(buffer).strip(), path))

    async def subscribe_events(self) -> WebSocketClientConnection:
        """The server's event bus websocket (`/api/events/subscribe`)."""
        url = "ws" + self.url("api/events/subscribe")[len("http") :]
        request = HTTPRequest(url, headers=self.headers(), request_timeout=self.request_timeout)
        try:
            connection: WebSocketClientConnection = await websocket_connect(request)
        except HTTPClientError as error:
            body = error.response.body if error.response is not None else b""
            raise self._fail(error.code, body, "GET api/events/subscribe") from None
        except OSError as error:
            raise self._unreachable(error) from None
        return connection

    async def resolve_kernel(self, kernel_id: str) -> str:
        """A full kernel id from an unambiguous prefix of one the sidecar knows."""
        if _FULL_KERNEL_ID.match(kernel_id) or not kernel_id:
            return kernel_id
        kernels = await self.get_as(KernelList, "api/sidecar/kernels")
        ids = sorted({kernel.kernel_id for kernel in kernels.root})
        if kernel_id in ids:
            return kernel_id
        matches = [known for known in ids if known.startswith(kernel_id)]
        if len(matches) > 1:
            raise CLIError(f"kernel id prefix {kernel_id!r} is ambiguous: {', '.join(matches)}")
        if not matches:
            raise CLIError(f"Kernel not found: {kernel_id}")
        return matches[0]


def read_answer(model: type[M], answer: Any, what: str) -> M:
    """`answer` as `model`; CLIError naming what does not fit (a server of another version)."""
    try:
        return model.model_validate(answer)
    except ValidationError as error:
        raise CLIError(f"{what}: unexpected answer: {describe(error, model)}") from None


def kernel_path(kernel_id: str, *rest: str) -> str:
    """`api/sidecar/kernels/{kernel_id}/...`, each part URL-quoted."""
    parts = [quote(part, safe="") for part in (kernel_id, *rest)]
    return "api/sidecar/kernels/" + "/".join(parts)


def _json_line(line: bytes, path: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise CLIError(f"POST {path}: the server sent a line that is not JSON") from None
    if not isinstance(item, dict):
        raise CLIError(f"POST {path}: the server sent a line that is not a JSON object")
    return item
