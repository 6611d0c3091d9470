"""`jupyter sidecar execute`: run code in a kernel and print its outputs as they arrive.

Through the server (`POST /api/sidecar/kernels/{id}/execute`, streamed as NDJSON) or, with
`--existing CONNECTION_FILE`, straight to the kernel with jupyter_client (no server needed).
Both print the same console-like text, and `--json` prints the same shape:
`{status, execution_count, outputs, msg_id}` (nbformat outputs, as the shadow model keeps them).
Exit status: 0 when the cell ran ok, 1 when it raised (or was aborted, or timed out).
Code that asks for input (`input()`, `getpass()`) is asked on the terminal (a password without
echo); the answer goes to `POST .../input`, or, with --existing, to the kernel's stdin channel.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from traitlets import Float, Unicode

from ..record.shadow import ShadowNotebook
from ..schemas.api import ExecuteResult
from .client import CLIError, SidecarClient, kernel_path, read_answer
from .common import SERVER_ALIASES, ServerCommand, one_line, print_json
from .connection import read_connection_file
from .render import ConsoleWriter

OUTPUT_MESSAGES = frozenset({"stream", "execute_result", "display_data", "error"})
# Seconds a kernel's heartbeat may stay silent before --existing calls the kernel dead: one
# still starting answers none yet, and jupyter_client's 1 s said "Kernel died before replying
# to kernel_info" when --existing followed the kernel's launch on a loaded machine.
HEARTBEAT_GRACE = 30.0
InputCallback = Callable[[str, bool], None]  # (prompt, password)


def ask(prompt: str, password: bool) -> str:
    """What the user types for the kernel's input request, the prompt on stderr (stdout holds
    the outputs); end of input is sent as the EOF the kernel understands ("\\x04")."""
    if password:
        try:
            return getpass.getpass(prompt, stream=sys.stderr)
        except EOFError:
            return "\x04"
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line.removesuffix("\n") if line else "\x04"


def message_parts(item: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(msg_type, content) of a streamed kernel message; (None, {}) for anything else."""
    header = item.get("header")
    msg_type = header.get("msg_type") if isinstance(header, dict) else item.get("msg_type")
    if not isinstance(msg_type, str):
        return None, {}
    content = item.get("content")
    return msg_type, content if isinstance(content, dict) else {}


class StreamPrinter:
    """Prints a streamed execution: kernel messages as they come, then keeps the result."""

    def __init__(self, writer: ConsoleWriter | None, on_input: InputCallback | None = None) -> None:
        self.writer = writer
        self.on_input = on_input
        self.result: dict[str, Any] | None = None
        self.reply: dict[str, Any] | None = None
        self.printed = False

    def __call__(self, item: dict[str, Any]) -> None:
        msg_type, content = message_parts(item)
        if msg_type is None:
            if "status" in item:  # the final result line
                self.result = item
            elif item.get("type") == "truncated":  # the server dropped lines we read late
                print(f"warning: {one_line(item.get('message'), 200)}", file=sys.stderr)
        elif msg_type in OUTPUT_MESSAGES:
            self.printed = True
            if self.writer is not None:
                self.writer.output({**content, "output_type": msg_type})
        elif msg_type == "execute_reply":
            self.reply = content
        elif msg_type == "input_request" and self.on_input is not None:
            prompt = content.get("prompt")
            self.on_input(
                prompt if isinstance(prompt, str) else "", content.get("password") is True
            )

    def finish(self) -> dict[str, Any]:
        """The execution's result; its outputs are printed if no message was streamed."""
        result = self.result
        if result is None and self.reply is not None:
            result = {
                "status": self.reply.get("status"),
                "execution_count": self.reply.get("execution_count"),
                "outputs": [],
            }
        if result is None:
            raise CLIError("the server ended the execution stream without a result")
        if not self.printed and self.writer is not None:
            for output in result.get("outputs") or []:
                if isinstance(output, dict):
                    self.writer.output(output)
        return result


def exit_status(result: dict[str, Any]) -> int:
    """0 for a cell that ran ok, else 1 (saying why unless the traceback said it already)."""
    status = result.get("status")
    if status == "ok":
        return 0
    message = " ".join(str(result.get("message") or "").split())
    if message:
        print(f"error: {message}", file=sys.stderr)
    elif status != "error":
        print(f"error: the execution ended with status {status!r}", file=sys.stderr)
    return 1


class ExecuteApp(ServerCommand):
    """`jupyter sidecar execute`."""

    name = "jupyter-sidecar-execute"
    description = """Run code in a kernel and print its outputs as they arrive.

    KERNEL_ID (or an unambiguous prefix) and CODE, or --file. With --existing, no server:
    the kernel is reached through its connection file. Exit status 1 when the code raised."""
    examples = """
    jupyter sidecar execute 3f2a "print('hello')"
    jupyter sidecar execute 3f2a --file script.py --timeout 60
    jupyter sidecar execute --existing kernel-3f2a.json "1 + 1" --json
    """

    file = Unicode("", config=True, help="Run the code of this file ('-': standard input).")
    existing = Unicode(
        "",
        config=True,
        help="A kernel's connection file (a path, or a name in the runtime dir as "
        "`jupyter console --existing` takes it): run there directly, without a server.",
    )
    timeout = Float(0.0, config=True, help="Seconds the execution may take (0: no limit).")
    cell_id = Unicode("", config=True, help="Record the execution under this cell id.")

    aliases = {
        **SERVER_ALIASES,
        "file": "ExecuteApp.file",
        "existing": "ExecuteApp.existing",
        "connection-file": "ExecuteApp.existing",
        "timeout": "ExecuteApp.timeout",
        "cell-id": "ExecuteApp.cell_id",
    }

    def _kernel_and_code(self) -> tuple[str, str]:
        args = list(self.extra_args)
        kernel_id = "" if self.existing else (args.pop(0) if args else "")
        if not self.existing and not kernel_id:
            raise CLIError("give KERNEL_ID and CODE (or --file), or --existing", status=2)
        if self.file and args:
            raise CLIError("give CODE or --file, not both", status=2)
        if self.file:
            return kernel_id, read_code(self.file)
        if len(args) != 1:
            raise CLIError("give the code to run as one argument (or --file)", status=2)
        return kernel_id, args[0]

    async def run(self) -> int:
        kernel_id, code = self._kernel_and_code()
        if self.existing:
            result = await run_in_kernel(self.existing, code, self.timeout or None, self.writer())
        else:
            result = await self._run_on_server(kernel_id, code)
        if self.json_output:
            print_json(result)
        return exit_status(result)

    def writer(self) -> ConsoleWriter | None:
        return None if self.json_output else ConsoleWriter()

    async def _run_on_server(self, kernel_id: str, code: str) -> dict[str, Any]:
        body: dict[str, Any] = {"code": code}
        if self.cell_id:
            body["cell_id"] = self.cell_id
        if self.timeout:
            body["timeout"] = self.timeout
        # the HTTP request outlives the execution it waits for
        wait = self.timeout + self.request_timeout if self.timeout else 24 * 3600.0
        client = self.client()
        try:
            kernel_id = await client.resolve_kernel(kernel_id)
            path = kernel_path(kernel_id, "execute")
            answers = InputAnswers(client, kernel_path(kernel_id, "input"))
            # streamed in both modes: an input request must be seen while the run waits
            printer = StreamPrinter(self.writer(), on_input=answers.ask)
            try:
                await client.stream(path, body, printer, timeout=wait)
            finally:
                await answers.drain()
            result = printer.finish()
            if self.json_output:
                answer = read_answer(ExecuteResult, result, f"POST {path}")
                return answer.model_dump(mode="json", exclude_unset=True)
            return result
        finally:
            client.close()


class InputAnswers:
    """Asks the terminal for each input request of a streamed run and posts the answers
    (`POST .../input`); the stream goes on meanwhile, the run waits in the kernel."""

    def __init__(self, client: SidecarClient, path: str) -> None:
        self._client = client
        self._path = path
        self._tasks: set[asyncio.Task[None]] = set()
        self._errors: list[CLIError] = []

    def ask(self, prompt: str, password: bool) -> None:
        task = asyncio.ensure_future(self._answer(prompt, password))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, prompt: str, password: bool) -> None:
        value = await asyncio.to_thread(ask, prompt, password)
        try:
            await self._client.request("POST", self._path, body={"value": value})
        except CLIError as error:  # e.g. 409: the run ended (timed out) meanwhile
            self._errors.append(error)

    async def drain(self) -> None:
        """The run ended: an answer still being typed is not wanted any more."""
        for task in list(self._tasks):
            task.cancel()  # a thread blocked on the terminal is left to the process's exit
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for error in self._errors:
            print(f"warning: {error}", file=sys.stderr)


def read_code(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CLIError(f"cannot read {file}: {error}") from None


async def run_in_kernel(
    connection_file: str, code: str, timeout: float | None, writer: ConsoleWriter | None
) -> dict[str, Any]:
    """Execute `code` in the kernel of `connection_file`; printed with `writer` as it runs and
    recorded into a one-cell shadow notebook, so --json has the server's shape."""
    from jupyter_client.asynchronous.client import AsyncKernelClient
    from jupyter_client.connect import find_connection_file

    try:
        path = find_connection_file(connection_file)
    except OSError as error:
        raise CLIError(f"no connection file {connection_file!r}: {error}") from None
    client = AsyncKernelClient(connection_file=path)
    client.load_connection_info(read_connection_file(path))
    client.hb_channel.time_to_dead = min(timeout or HEARTBEAT_GRACE, HEARTBEAT_GRACE)
    notebook = ShadowNotebook()
    requested: list[str] = []

    def on_iopub(msg: dict[str, Any]) -> None:
        parent = msg.get("parent_header", {}).get("msg_id")
        if not requested and parent:
            requested.append(parent)
            notebook.add_request(parent, code)
        msg_type = msg["header"]["msg_type"]
        notebook.handle_iopub(msg_type, parent, msg.get("content", {}))
        if writer is not None and msg_type in OUTPUT_MESSAGES:
            writer.output({**msg.get("content", {}), "output_type": msg_type})

    client.start_channels()
    try:
        try:
            await client.wait_for_ready(timeout=timeout or 60.0)
        except RuntimeError as error:
            raise CLIError(f"the kernel of {path} does not answer: {error}") from None
        try:
            reply = await client.execute_interactive(
                code,
                allow_stdin=True,
                timeout=timeout,
                output_hook=on_iopub,
                stdin_hook=lambda msg: _answer_stdin(client, msg),
            )
        except TimeoutError:
            raise CLIError(f"the execution did not finish within {timeout} s") from None
    finally:
        client.stop_channels()
    msg_id = str(reply["parent_header"].get("msg_id", ""))
    if not requested:
        notebook.add_request(msg_id, code)
    notebook.handle_reply(msg_id, reply.get("content", {}))
    cell = notebook.by_msg_id(msg_id)
    assert cell is not None
    return {
        "status": cell.status,
        "execution_count": cell.execution_count,
        "outputs": cell.outputs,
        "msg_id": msg_id,
    }


def _answer_stdin(client: Any, msg: dict[str, Any]) -> None:
    """jupyter_client's stdin hook, asking as the server mode does."""
    content = msg.get("content") or {}
    prompt = content.get("prompt")
    value = ask(prompt if isinstance(prompt, str) else "", content.get("password") is True)
    client.input(value)
