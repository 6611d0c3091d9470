"""Real-browser test harness: a real `jupyter lab` subprocess and Debian's Chromium.

Fixtures (prefix `sc_`):

- `sc_lab_server` (session, two params): JupyterLab started from the current venv,
  isolated in temp dirs, with a method to stop and restart it on the same port and dirs;
  once with real-time collaboration off ("plain"), once on ("collaborative": with
  jupyter-collaboration, or in a venv with jupyter-server-documents instead, with that).
- `sc_browser` (session): a Playwright persistent context on `/usr/bin/chromium`.
- `sc_pages` (function): opens documents in new pages, each in a workspace of its own
  (`pages.Pages`; a test module overrides `sc_pages_class` to record more per page); on
  failure every page's screenshot and console are saved and their paths printed.
- `sc_page` (function): a fresh page of `sc_pages`.
- `sc_files` (function): notebooks and files a test writes into the server's root_dir;
  their sessions are shut down afterwards.

UI tests are plain sync functions (Playwright's sync API) marked `@pytest.mark.ui`;
the server lives in `harness.py`, page and server helpers in `pages.py`. Tests install
nothing: the package (with its built labextension) must be installed in the venv that
runs pytest, and Chromium must be at `/usr/bin/chromium`.

Playwright and pytest-jupyter share the main thread. Between two sync calls Playwright
keeps its own event loop marked as the thread's *running* loop. pytest-jupyter's autouse
`jp_asyncio_loop` would then pick that loop up, run async tests in it ("This event loop
is already running") and close it at teardown. So the loop is marked only while a test
that uses the browser runs (`_sc_playwright_loop`), and unmarked in between.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

from .harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PAGE_TIMEOUT_MS,
    SERVER_DOCUMENTS,
    LabServer,
    collaboration_backend,
)
from .pages import Files, Pages


@pytest.fixture(scope="session", params=["plain", "collaborative"])
def sc_lab_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LabServer]:
    """A running JupyterLab from the current venv, in temp dirs, for the whole session;
    every test that uses it runs twice: real-time collaboration off, then on (pytest
    groups the tests by mode, so each mode starts one server)."""
    collaborative = request.param == "collaborative"
    backend = collaboration_backend()
    if collaborative and backend is None:
        pytest.skip("jupyter-collaboration is not installed (pip install -e '.[test]')")
    if not collaborative and backend == SERVER_DOCUMENTS:
        pytest.skip(
            "jupyter-server-documents is installed: it cannot be turned off, so this venv "
            "runs the collaborative mode only (scripts/test.sh runs the others in .venv)"
        )
    server = LabServer(base_dir=tmp_path_factory.mktemp("sc_lab"), collaborative=collaborative)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- Playwright -------------------------------------------------------------------------


@dataclass
class _PlaywrightSession:
    playwright: Playwright
    context: BrowserContext
    loop: asyncio.AbstractEventLoop


_SESSION_KEY = pytest.StashKey[_PlaywrightSession]()


@contextmanager
def _loop_marked(loop: asyncio.AbstractEventLoop | None) -> Iterator[None]:
    """Mark Playwright's loop as the thread's running loop for a while (see module doc)."""
    previous = asyncio._get_running_loop()
    asyncio._set_running_loop(loop)
    try:
        yield
    finally:
        asyncio._set_running_loop(previous)


@pytest.fixture(scope="session")
def sc_browser(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    """Headless Chromium (Debian's) with a fresh profile, shared by the session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium "
            "(apt-get install -y chromium; scripts/test.sh does it)"
        )
    profile = tmp_path_factory.mktemp("sc_chromium_profile")
    # Playwright's sync API starts its own loop; it needs none marked as running.
    with _loop_marked(None):
        playwright = sync_playwright().start()
        try:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
            )
        except BaseException:
            playwright.stop()
            raise
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        loop = asyncio._get_running_loop()
        assert loop is not None, "Playwright's sync API left no loop marked as running"
    session = _PlaywrightSession(playwright=playwright, context=context, loop=loop)
    request.config.stash[_SESSION_KEY] = session
    try:
        yield context
    finally:
        del request.config.stash[_SESSION_KEY]
        with _loop_marked(loop):
            try:
                context.close()
            finally:
                playwright.stop()


@pytest.fixture(autouse=True)
def _sc_playwright_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """While a test that uses the browser runs, mark Playwright's loop as running."""
    if "sc_browser" not in request.fixturenames:
        yield
        return
    if "jp_asyncio_loop" in request.fixturenames:
        # Set up pytest-jupyter's loop first (and so tear it down after us) while no
        # loop is marked: it must get a loop of its own, never Playwright's.
        request.getfixturevalue("jp_asyncio_loop")
    request.getfixturevalue("sc_browser")
    session = request.config.stash[_SESSION_KEY]
    with _loop_marked(session.loop):
        yield


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"sc_report_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    report = getattr(request.node, "sc_report_call", None)
    return report is not None and bool(report.failed)


@pytest.fixture
def sc_pages_class() -> type[Pages]:
    """The kind of `Pages` that `sc_pages` makes; override it in a test module."""
    return Pages


@pytest.fixture
def sc_pages(
    request: pytest.FixtureRequest,
    sc_pages_class: type[Pages],
    sc_browser: BrowserContext,
    sc_lab_server: LabServer,
    tmp_path: Path,
) -> Iterator[Pages]:
    """Opens documents in new pages (workspaces named after the test module); on failure,
    every page's screenshot and console are saved under tmp_path."""
    module = request.node.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    pages = sc_pages_class(sc_browser, sc_lab_server, f"sc-{module.replace('_', '-')}")
    try:
        yield pages
    finally:
        pages.close(tmp_path if _failed(request) else None)


@pytest.fixture
def sc_page(sc_pages: Pages) -> Page:
    """A fresh page; on failure, its screenshot and console are saved under tmp_path."""
    return sc_pages.new_page()


@pytest.fixture
def sc_files(sc_lab_server: LabServer) -> Iterator[Files]:
    """Notebooks and files of the test in the server's root_dir; their sessions end after."""
    sc_lab_server.ensure_running()
    files = Files(sc_lab_server)
    try:
        yield files
    finally:
        files.end_sessions()
