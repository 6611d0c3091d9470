"""Property-based bad input for every REST route of the extension: whatever the body, path
ids or query string, the answer is JSON with the right class of status (4xx with a
`message`, or 2xx for valid input), never a 5xx, and recording of a kernel started before
the run goes on. A lone surrogate (`"\\ud800"`) put anywhere in a valid body is a 400 naming
where it is (in a lint cell's source: that cell's error), and odd UTF-8 in paths is no 5xx.

The routes are enumerated from `make_handlers`, as in test_auth.py, so a new route (or a new
verb on one) is fuzzed without touching this file. pytest-jupyter's fixtures are sync and
function scoped, so the hypothesis run lives inside one sync test: an inner `@given`
function drives each request to completion on the server's loop
(`jp_asyncio_loop.run_until_complete`), as pytest-asyncio does for hypothesis tests.

Runs use the suite's fuzz profile (tests/conftest.py): derandomized, no example database, so
a failure in CI reproduces locally as is; `SIDECAR_FUZZ_EXPLORE=1` draws fresh, more numerous
examples instead.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st
from tornado.httpclient import HTTPResponse
from traitlets.config import Config

from jupyter_sidecar_ext.handlers import Services, SidecarHandler, make_handlers
from jupyter_sidecar_ext.pytest_plugin import SERVER_CONFIG

VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE")
LINT_LIMIT = 64 * 1024  # lint_max_request_bytes here: "near and over the limit" stays cheap
FUZZ = settings.get_profile("sidecar-fuzz")  # tests/conftest.py


@dataclass(frozen=True)
class Route:
    """One registered route: its pattern, named groups and the verbs it implements."""

    pattern: str
    groups: tuple[str, ...]
    verbs: tuple[str, ...]
    handler: str

    def path(self, values: dict[str, str]) -> str:
        """The route's path with each named group replaced by an (already quoted) value."""
        filled = re.sub(r"\(\?P<([^>]+)>[^)]*\)", lambda m: values[m.group(1)], self.pattern)
        return filled.replace("/?", "").lstrip("/")


def routes() -> list[Route]:
    found = []
    for pattern, handler, _ in make_handlers(Services(registry=None)):  # type: ignore[arg-type]
        verbs = tuple(
            verb
            for verb in VERBS
            if getattr(handler, verb.lower()) is not getattr(SidecarHandler, verb.lower())
        )
        groups = tuple(re.findall(r"\(\?P<([^>]+)>", pattern))
        found.append(Route(pattern, groups, verbs, handler.__name__))
    return found


ROUTES = routes()
# Statuses a route's contract answers with on valid input (e.g. 504: the run timed out).
CONTRACT_5XX = {"ExecuteHandler": {503, 504}}


@pytest.fixture
def jp_server_config() -> Config:
    config = Config(copy.deepcopy(SERVER_CONFIG))
    config.LintService.max_request_bytes = LINT_LIMIT
    return config


# -- strategies --------------------------------------------------------------------------------

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
SAFE_CODE = ("1", "pass", "print('fuzz')", "1/0", "x = 2")  # all the fuzz ever runs
SAFE_SOURCES = (
    "x=1",
    "import sys\nimport os\n",
    "%matplotlib inline\nx  =  [1,2]",
    "def f( ):\n  pass",
)
VALID_LINT = st.fixed_dictionaries(
    {
        "cells": st.lists(
            st.fixed_dictionaries(
                {"id": st.text(max_size=8), "source": st.sampled_from(SAFE_SOURCES)}
            ),
            max_size=3,
        )
    },
    optional={"tools": st.lists(st.sampled_from(["isort", "black"]), unique=True)},
)
EXECUTE = st.fixed_dictionaries(
    {"code": st.sampled_from(SAFE_CODE) | JSON_LEAVES.filter(lambda v: not isinstance(v, str))},
    optional={
        "cell_id": st.text(max_size=8) | JSON_LEAVES,
        # Long enough for SAFE_CODE: a timed-out run would interrupt the kernel mid-test.
        "timeout": st.floats(min_value=10, max_value=60)
        | st.sampled_from([0, -1, -0.5, "5", None, True, [], {}, float("nan"), 1e309]),
    },
)
LINTISH = st.dictionaries(
    st.sampled_from(["cells", "path", "tools", "options"]) | st.text(max_size=8),
    JSON_VALUES
    | st.lists(st.dictionaries(st.sampled_from(["id", "source"]), JSON_VALUES, max_size=2)),
    max_size=4,
)


def sized_lint_body(size: int) -> bytes:
    """A valid lint body of exactly `size` bytes (one long source line)."""
    head, tail = b'{"cells": [{"id": "big", "source": "', b'"}]}'
    return head + b"x" * max(1, size - len(head) - len(tail)) + tail


def nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a": ' * depth + b"1" + b"}" * depth


BODIES = st.one_of(
    VALID_LINT.map(lambda body: json.dumps(body).encode()),
    EXECUTE.map(lambda body: json.dumps(body).encode()),
    LINTISH.map(lambda body: json.dumps(body).encode()),
    JSON_VALUES.map(lambda body: json.dumps(body).encode()),
    st.binary(max_size=200),
    st.text(alphabet='{}[]",:0123456789.eEtruefalsn \\', max_size=60).map(str.encode),
    st.builds(nested, st.integers(1, 200_000), st.sampled_from(["list", "object"])),
    st.integers(LINT_LIMIT - 300, LINT_LIMIT + 300).map(sized_lint_body),
    st.sampled_from([b"", b"null", b'{"cells": "\xff"}', b"\xef\xbb\xbf{}", b'{"cells": [1e999]}']),
)

ODD_SEGMENTS = st.sampled_from(
    ["%ZZ", "%FF", "%00", "..", ".", "%2e%2e", "%2F", "a%20b", "%25s", "%ED%A0%80", "a%ED%BF%BFb"]
)


def segment(known: list[str]) -> st.SearchStrategy[str]:
    """A path segment: a known id, an unknown one, or odd characters (quoted or raw)."""
    return (
        st.sampled_from([*known, uuid.UUID(int=1).hex])
        | st.sampled_from(known)
        | st.text(min_size=1, max_size=40).map(lambda s: quote(s, safe=""))
        | ODD_SEGMENTS
    )


SINCE_VALUES = (
    st.integers(-(10**30), 10**30).map(str)
    | st.text(max_size=30)
    | st.sampled_from(["", "0", "1e3", "0x10", " 5", "5 ", "\u0661\u0662", "9" * 5000, "NaN"])
)
QUERIES = st.dictionaries(
    st.sampled_from(["since", "path", "cells"])
    | st.text(max_size=8).filter(lambda key: key.lower() != "token"),
    SINCE_VALUES,
    max_size=3,
).map(urlencode) | st.sampled_from(
    ["since=%FF", "since=%ZZ", "since", "since=1&since=x", "=&&=", "since=%00"]
)


def runs_only_safe_code(body: bytes | None) -> bool:
    """Whether a body, were it an execute request, would run nothing but SAFE_CODE, without
    a timeout short enough to interrupt it: the fuzz never runs generated text in a kernel."""
    try:
        decoded = json.loads(body or b"null")
    except Exception:
        return True  # not JSON: refused before anything runs
    if not isinstance(decoded, dict) or not isinstance(decoded.get("code"), str):
        return True
    if not encodes(decoded["code"]):
        return True  # a lone surrogate: refused (it could not reach a kernel anyway)
    timeout = decoded.get("timeout")
    number = isinstance(timeout, int | float) and not isinstance(timeout, bool)
    short = number and 0 < timeout < 10
    return decoded["code"] in SAFE_CODE and not short  # nor a timeout that interrupts


# Lone surrogates: JSON can carry them (`"\\ud800"`), Python decodes them, no UTF-8 encoder
# takes them. One, between ASCII letters (so it cannot pair), put into one string of a valid
# body: a key or a value.
LONE = st.integers(0xD800, 0xDFFF).map(chr)
SURROGATE_BASES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "ExecuteHandler": st.fixed_dictionaries(
        {"code": st.sampled_from(SAFE_CODE)}, optional={"cell_id": st.just("cell")}
    ),
    "LintHandler": st.fixed_dictionaries(
        {
            "cells": st.lists(
                st.fixed_dictionaries({"id": st.just("c"), "source": st.just("x=1")}),
                min_size=1,
                max_size=3,
            )
        },
        optional={
            "path": st.just("nb.ipynb"),
            "tools": st.just(["black"]),
            "options": st.just({"black": {"target_version": ["py311"]}}),
        },
    ),
}


def string_spots(value: Any, loc: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], bool]]:
    """(location, is_key) of every string of a JSON value."""
    if isinstance(value, str):
        return [(loc, False)]
    if isinstance(value, dict):
        spots = [((*loc, key), True) for key in value]
        return spots + [s for key, item in value.items() for s in string_spots(item, (*loc, key))]
    if isinstance(value, list):
        return [s for i, item in enumerate(value) for s in string_spots(item, (*loc, i))]
    return []


@st.composite
def with_lone_surrogate(draw: st.DrawFn, handler: str) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """A valid body of `handler` with a lone surrogate in one of its strings; where it is."""
    body = copy.deepcopy(draw(SURROGATE_BASES[handler]))  # st.just values are shared
    loc, is_key = draw(st.sampled_from(string_spots(body)))
    *parents, last = loc
    holder: Any = body
    for part in parents:
        holder = holder[part]
    text = last if is_key else holder[last]
    at = draw(st.integers(0, len(text)), label="position")
    spoiled = f"{text[:at]}a{draw(LONE)}b{text[at:]}"
    if is_key:
        holder[spoiled] = holder.pop(last)
        return body, (*parents, spoiled)
    holder[last] = spoiled
    return body, loc


def encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- the run -----------------------------------------------------------------------------------


def check_answer(response: HTTPResponse, route: Route, what: str) -> None:
    """JSON, never a 5xx (but those in the route's contract); errors carry a message."""
    allowed = CONTRACT_5XX.get(route.handler, set())
    assert response.code < 500 or response.code in allowed, (
        f"{what} -> {response.code}: {response.body[:500]!r}"
    )
    assert response.code >= 200, f"{what} -> {response.code}"
    if response.code == 204:
        return
    body = json.loads(response.body)
    if response.code >= 400:
        assert isinstance(body, dict), f"{what}: {body!r}"
        assert isinstance(body.get("message"), str) and body["message"], f"{what}: {body!r}"
        assert "traceback" not in body or not body["traceback"], f"{what}: {body!r}"
    else:
        assert isinstance(body, (dict, list)), f"{what}: {body!r}"


@dataclass
class Fuzzer:
    """Sends requests to the test server and checks each answer; remembers what it saw."""

    run: Callable[[Any], Any]
    client: Any
    headers: dict[str, str]
    base_url: str
    seen: set[tuple[str, str, int]]

    def send(self, route: Route, verb: str, path: str, body: bytes | None) -> None:
        assume(runs_only_safe_code(body))
        note(f"{verb} {path} body={None if body is None else body[:200]!r}")
        response = self.run(self.fetch(verb, self.base_url + path, body))
        check_answer(response, route, f"{verb} {path}")
        self.seen.add((route.pattern, verb, response.code // 100))

    async def fetch(self, verb: str, url: str, body: bytes | None) -> HTTPResponse:
        response: HTTPResponse = await self.client.fetch(
            url,
            method=verb,
            body=body,
            headers=dict(self.headers),
            raise_error=False,
            allow_nonstandard_methods=True,
            request_timeout=60,
        )
        return response


def test_every_route_answers_bad_input_with_json_4xx(
    jp_asyncio_loop: Any,
    http_server_client: Any,
    jp_auth_header: dict[str, str],
    jp_base_url: str,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_cell_finished: Any,
) -> None:
    run: Callable[[Any], Any] = jp_asyncio_loop.run_until_complete
    kernel_id = run(sc_start_kernel())
    client = run(sc_connect(kernel_id, "v1"))
    run(client.collect(run(client.execute("x = 1; print('before')", cell_id="before"))))
    run(sc_cell_finished(kernel_id, "before"))
    known = {
        "kernel_id": [kernel_id],
        "cell_id": ["before"],
        "name": ["x", "nope"],
        "path": ["kernels", "nothing/here"],
        "msg_id": ["nope", uuid.UUID(int=2).hex],
    }
    assert all(group in known for route in ROUTES for group in route.groups), (
        "a new route group: add known values for it"
    )
    fuzzer = Fuzzer(run, http_server_client, jp_auth_header, jp_base_url, set())
    with_body = [(route, verb) for route in ROUTES for verb in route.verbs if verb != "GET"]
    assert with_body, "no route takes a body any more: drop the body fuzz"

    def draw_path(data: st.DataObject, route: Route, ids: bool) -> str:
        values = {
            group: data.draw(segment(known[group]) if ids else st.sampled_from(known[group]))
            for group in route.groups
        }
        query = data.draw(QUERIES, label="query") if ids else ""
        return route.path(values) + (f"?{query}" if query else "")

    @FUZZ
    @given(data=st.data())
    def fuzz_bodies(data: st.DataObject) -> None:
        """Every verb that reads a body, with good and bad bodies, on good paths."""
        route, verb = data.draw(st.sampled_from(with_body), label="route")
        fuzzer.send(route, verb, draw_path(data, route, ids=False), data.draw(BODIES))

    @FUZZ
    @given(data=st.data())
    def fuzz_paths(data: st.DataObject) -> None:
        """Every route and verb (implemented or not), with odd ids and query strings."""
        route = data.draw(st.sampled_from(ROUTES), label="route")
        verb = data.draw(st.sampled_from([*route.verbs, *VERBS]), label="verb")
        body = None
        if verb != "GET" or data.draw(st.booleans(), label="a body on GET"):
            body = data.draw(BODIES, label="body")
        fuzzer.send(route, verb, draw_path(data, route, ids=True), body)

    by_handler = {route.handler: route for route in ROUTES}

    @FUZZ
    @given(data=st.data())
    def fuzz_lone_surrogates(data: st.DataObject) -> None:
        """A lone surrogate anywhere in a valid body is a 400 naming where, before anything
        runs; in a lint cell's source, that cell's own error."""
        handler = data.draw(st.sampled_from(sorted(SURROGATE_BASES)), label="handler")
        body, loc = data.draw(with_lone_surrogate(handler), label="body")
        route = by_handler[handler]
        raw = json.dumps(body).encode()  # ensure_ascii: the surrogate travels as \\udXXX
        note(f"POST {route.pattern} body={raw[:300]!r}")
        path = route.path({group: known[group][0] for group in route.groups})
        response = run(fuzzer.fetch("POST", jp_base_url + path, raw))
        check_answer(response, route, f"POST {path}")
        answer = json.loads(response.body)
        if handler == "LintHandler" and len(loc) == 3 and loc[0] == "cells" and loc[2] == "source":
            assert response.code == 200, answer
            assert answer["cells"][loc[1]]["error"].startswith("UnicodeEncodeError"), answer
            return
        assert response.code == 400, answer
        where = ".".join(str(part).encode("utf-8", "backslashreplace").decode() for part in loc)
        assert answer["message"].startswith(f"{where}: text is not valid Unicode"), answer

    fuzz_bodies()
    fuzz_paths()
    fuzz_lone_surrogates()

    # Every route was reached, and valid input got a 2xx somewhere.
    seen = fuzzer.seen
    assert {pattern for pattern, _, _ in seen} == {route.pattern for route in ROUTES}
    assert any(klass == 2 for _, _, klass in seen)
    # The server still answers, and the kernel started before the run still records.
    info = run(fuzzer.fetch("GET", f"{jp_base_url}api/sidecar", None))
    assert info.code == 200
    run(client.collect(run(client.execute("print('after')", cell_id="after"))))
    cell = run(sc_cell_finished(kernel_id, "after"))
    assert cell["status"] == "ok"
    assert cell["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "after\n"}]


@pytest.mark.parametrize("kind", ["list", "object"])
async def test_a_deeply_nested_body_is_a_400(jp_fetch: Any, kind: str) -> None:
    """Found by the fuzz run: json's decoder raises RecursionError (not ValueError) on deep
    nesting, which was a 500 with a traceback in the log."""
    response = await jp_fetch(
        "api", "sidecar", "lint", method="POST", body=nested(5_000, kind), raise_error=False
    )
    assert response.code == 400
    assert "nested too deeply" in json.loads(response.body)["message"]
