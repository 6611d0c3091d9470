"""Every route the extension registers refuses unauthenticated requests, and every
mutating verb refuses a cookie-authenticated request without an XSRF token."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_sidecar_ext.handlers import Services, SidecarHandler, make_handlers

MUTATING = ("POST", "PUT", "PATCH", "DELETE")


def routes() -> list[tuple[str, str]]:
    """(concrete path, verb) for every verb each registered handler implements."""
    found = []
    for pattern, handler, _ in make_handlers(Services(registry=None)):  # type: ignore[arg-type]
        path = re.sub(r"\(\?P<[^>]+>[^)]*\)", "x", pattern).replace("/?", "").lstrip("/")
        for verb in ("GET", *MUTATING):
            if getattr(handler, verb.lower()) is not getattr(SidecarHandler, verb.lower()):
                found.append((path, verb))
    return found


ROUTES = routes()


def test_every_route_is_enumerated() -> None:
    assert ("api/sidecar", "GET") in ROUTES
    assert len({path for path, _ in ROUTES}) == len(make_handlers(Services(registry=None)))  # type: ignore[arg-type]


@pytest.mark.parametrize(("path", "verb"), ROUTES)
async def test_refuses_requests_without_credentials(jp_fetch: Any, path: str, verb: str) -> None:
    body = "{}" if verb in ("POST", "PUT", "PATCH") else None
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            *path.split("/"),
            method=verb,
            body=body,
            headers={"Authorization": ""},
            allow_nonstandard_methods=True,
        )
    assert info.value.code in {401, 403}


@pytest.mark.parametrize(("path", "verb"), [r for r in ROUTES if r[1] in MUTATING])
async def test_mutating_verbs_need_xsrf_with_cookie_auth(
    jp_fetch: Any, jp_serverapp: Any, path: str, verb: str
) -> None:
    token = jp_serverapp.identity_provider.token
    login = await jp_fetch("api", "status", params={"token": token}, headers={"Authorization": ""})
    cookies = login.headers.get_list("Set-Cookie")
    assert cookies, "a token in the URL logs the browser in with a cookie"
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            *path.split("/"),
            method=verb,
            body="{}" if verb != "DELETE" else None,
            headers={"Authorization": "", "Cookie": "; ".join(c.split(";")[0] for c in cookies)},
            allow_nonstandard_methods=True,
        )
    assert info.value.code in {401, 403}
