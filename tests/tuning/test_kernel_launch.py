"""ipykernel kernels start with a deeper iopub send queue and a lower CPU priority, and keep
everything else as launched.

The queue test stalls a subscriber of the kernel's own (a SUB socket that stops reading, as a
starved reader does): with ZMQ's default mark the kernel drops most of a 40,000-line cell for
it; with the sidecar's launch every line waits for it and arrives once it reads again.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import pytest
import zmq
import zmq.asyncio

from jupyter_sidecar_ext.pytest_plugin import KernelWebsocketClient
from jupyter_sidecar_ext.tuning.kernel_launch import IPYKERNEL_MODULES, bootstrap, tuned_command

LINES = 40_000
LINE_CODE = (
    "import sys\n"
    f"for i in range({LINES}):\n"
    "    sys.stdout.write(f'{i}\\n')\n"
    "    sys.stdout.flush()\n"
)
FACTS_CODE = (
    "import json, os, sys, threading, zmq\n"
    "socket = get_ipython().kernel.iopub_thread.socket\n"
    "with open(f'/proc/{os.getpid()}/cmdline', 'rb') as f:\n"
    "    launched = f.read().split(b'\\0')[1].decode()\n"
    "print(json.dumps({'hwm': socket.getsockopt(zmq.SNDHWM), 'argv0': sys.argv[0],\n"
    "    'main': sys.modules['__main__'].__name__, 'launched_with': launched,\n"
    "    'cwd_on_path': '' in sys.path, 'nice': os.getpriority(os.PRIO_PROCESS, 0),\n"
    "    'thread_nices': sorted({os.getpriority(os.PRIO_PROCESS, t.native_id)\n"
    "        for t in threading.enumerate() if t.native_id}),\n"
    "    'session_leader': os.getsid(0) == os.getpid(),\n"
    "    'autogroup': open('/proc/self/autogroup').read()\n"
    "        if os.path.exists('/proc/self/autogroup') else None,\n"
    "    }))\n"
)


STOCK = pytest.mark.parametrize(
    "jp_server_config", [{"KernelLaunch": {"iopub_hwm": None, "kernel_nice": 0}}], indirect=True
)


# -- the command -----------------------------------------------------------------------------


@pytest.mark.parametrize("module", sorted(IPYKERNEL_MODULES))
def test_ipykernel_launch_goes_through_the_bootstrap(module: str) -> None:
    cmd = ["/env/bin/python", "-m", module, "-f", "/run/kernel-1.json", "--debug"]
    assert tuned_command(cmd, 5000, 3) == [
        "/env/bin/python",
        "-c",
        bootstrap(module, 5000, 3),
        "-f",
        "/run/kernel-1.json",
        "--debug",
    ]
    for hwm, nice in ((5000, 3), (5000, 0), (None, 3)):
        program = bootstrap(module, hwm, nice)
        compile(program, "<bootstrap>", "exec")
        assert ("sndhwm = 5000" in program) == (hwm is not None)
        assert ("os.nice(3)" in program) == bool(nice)
    assert tuned_command(cmd, None, 0) is cmd


@pytest.mark.parametrize(
    "cmd",
    [
        ["R", "--slave", "-e", "IRkernel::main()", "--args", "{connection_file}"],
        ["/env/bin/python", "-m", "ipykernel_launcher_fork", "-f", "cf"],
        ["/env/bin/python", "-m"],
        ["/env/bin/python", "/opt/kernel.py", "-m", "ipykernel"],
        [],
    ],
)
def test_other_kernel_commands_are_left_alone(cmd: list[str]) -> None:
    assert tuned_command(list(cmd), 5000, 3) == cmd


# -- real kernels ----------------------------------------------------------------------------


async def _facts(sc_connect: Any, kernel_id: str) -> dict[str, Any]:
    client = await sc_connect(kernel_id, "v1")
    try:
        msg_id = await client.execute(FACTS_CODE)
        replies = await client.collect(msg_id)
    finally:
        client.close()
    text = "".join(m["content"]["text"] for m in replies if m["header"]["msg_type"] == "stream")
    return dict(json.loads(text))


async def test_a_started_kernel_has_the_deeper_queue_and_a_plain_launch(
    sc_start_kernel: Any, sc_connect: Any, jp_fetch: Any
) -> None:
    kernel_id = await sc_start_kernel()
    facts = await _facts(sc_connect, kernel_id)
    assert facts["hwm"] == 100_000
    assert facts["launched_with"] == "-c"
    # what user code sees is what `python -m ipykernel_launcher` gives it
    assert facts["argv0"].endswith("ipykernel_launcher.py")
    assert facts["main"] == "__main__"
    assert facts["cwd_on_path"]
    assert facts["nice"] == os.nice(0)  # kernel_nice is opt-in

    await jp_fetch("api", "kernels", kernel_id, "restart", method="POST", body="")
    assert (await _facts(sc_connect, kernel_id))["hwm"] == 100_000


@pytest.mark.parametrize("jp_server_config", [{"KernelLaunch": {"kernel_nice": 5}}], indirect=True)
async def test_kernel_nice_puts_every_kernel_thread_below_the_server(
    sc_start_kernel: Any, sc_connect: Any, jp_fetch: Any
) -> None:
    """Set before any kernel thread starts (Linux keeps a niceness per thread), and again
    for the process a restart launches."""
    kernel_id = await sc_start_kernel()
    for _ in range(2):
        facts = await _facts(sc_connect, kernel_id)
        assert facts["nice"] == os.nice(0) + 5
        assert facts["thread_nices"] == [facts["nice"]]
        # With Linux autogroups the kernel's session is a scheduling group of its own,
        # weighed against the server's by the group's niceness: lowered too.
        assert facts["session_leader"]
        if facts["autogroup"] is not None:
            assert facts["autogroup"].split()[-1] == str(facts["nice"])
        assert facts["hwm"] == 100_000
        await jp_fetch("api", "kernels", kernel_id, "restart", method="POST", body="")


@STOCK
async def test_none_starts_kernels_exactly_as_their_spec_says(
    sc_start_kernel: Any, sc_connect: Any
) -> None:
    facts = await _facts(sc_connect, await sc_start_kernel())
    assert facts["hwm"] == 1000  # ZMQ's default
    assert facts["launched_with"] == "-m"
    assert facts["nice"] == os.nice(0)
    assert facts["argv0"].endswith("ipykernel_launcher.py")


async def _stalled_subscriber(
    context: zmq.asyncio.Context, url: str, client: KernelWebsocketClient
) -> zmq.asyncio.Socket:
    """A SUB socket that has joined and then reads nothing more.

    ZMQ subscriptions take effect some time after connecting, and the kernel's XPUB passes
    on only the first subscription to a topic (the sidecar's), so ipykernel welcomes no one
    else: as jupyter_server does with kernel_info, run small cells until one reaches it."""
    socket = context.socket(zmq.SUB)
    socket.setsockopt(zmq.RCVHWM, 1)
    socket.setsockopt(zmq.RCVBUF, 4096)
    socket.setsockopt(zmq.SUBSCRIBE, b"")
    socket.connect(url)
    for _ in range(60):
        probe = await client.execute("pass")
        await client.collect(probe)  # the kernel has published all of the probe's messages
        while await socket.poll(1000):  # what the probe left on the wire: a short bounded wait
            frames = await socket.recv_multipart()
            start = frames.index(b"<IDS|MSG>") + 2
            parent, content = json.loads(frames[start + 1]), json.loads(frames[start + 3])
            if parent.get("msg_id") == probe and content.get("execution_state") == "idle":
                return socket
    pytest.fail("the subscriber never joined")


async def _lines_until_idle(socket: zmq.asyncio.Socket, msg_id: str) -> int:
    lines = 0
    while True:
        try:
            frames = await asyncio.wait_for(socket.recv_multipart(), 30)
        except TimeoutError:
            pytest.fail(f"the kernel dropped messages: {lines} of {LINES} lines, no idle")
        start = frames.index(b"<IDS|MSG>") + 2
        header, parent = json.loads(frames[start]), json.loads(frames[start + 1])
        if parent.get("msg_id") != msg_id:
            continue
        content = json.loads(frames[start + 3])
        if header["msg_type"] == "stream":
            lines += content["text"].count("\n")
        elif header["msg_type"] == "status" and content["execution_state"] == "idle":
            return lines


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP buffer sizes assumed")
async def test_a_stalled_subscriber_loses_no_line(
    sc_start_kernel: Any, sc_connect: Any, jp_serverapp: Any
) -> None:
    kernel_id = await sc_start_kernel()
    info = jp_serverapp.kernel_manager.get_kernel(kernel_id).get_connection_info()
    context = zmq.asyncio.Context()
    try:
        client = await sc_connect(kernel_id, "v1")
        url = f"tcp://{info['ip']}:{info['iopub_port']}"
        stalled = await _stalled_subscriber(context, url, client)
        msg_id = await client.execute(LINE_CODE)
        await client.collect(msg_id, timeout=300)  # the kernel has sent everything
        client.close()
        # far more than ZMQ's 1,000 messages and the TCP buffers wait in the kernel's queue
        assert await _lines_until_idle(stalled, msg_id) == LINES
    finally:
        context.destroy(linger=0)
