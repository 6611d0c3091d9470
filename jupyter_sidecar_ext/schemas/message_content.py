"""Content models for every message of the Jupyter messaging protocol 5.4.

One class per ``content`` shape, named after the message type. Every model keeps
unknown fields (``extra="allow"``) so that a parsed message dumps back to what was
received, and validates strictly (no silent coercion of ``"1"`` to ``1``): a value of
the wrong type is a validation error, not a changed value.

Reply contents follow the spec's rule that an ``error`` or ``aborted`` reply omits the
usual fields, so those fields are optional and default to "absent" values. Defaults
never appear in a dump made with ``exclude_unset=True`` (what the message models use).

References: https://jupyter-client.readthedocs.io/en/latest/messaging.html, the JEP 91
kernel subshells as implemented by ipykernel 7, and the Debug Adapter Protocol for the
``debug_*`` messages.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ReplyStatus = Literal["ok", "error", "abort", "aborted"]
"""``abort`` is the spec's (deprecated) spelling, ``aborted`` is what ipykernel sends."""


class Content(BaseModel):
    """Base of every content model: keeps unknown fields, validates strictly."""

    model_config = ConfigDict(extra="allow", strict=True)


class ReplyContent(Content):
    """Fields shared by every ``*_reply``: a status, and error details when it failed."""

    status: ReplyStatus
    ename: str | None = None
    evalue: str | None = None
    traceback: list[str] | None = None


# --- shell -------------------------------------------------------------------------


class ExecuteRequestContent(Content):
    """Defaults are ipykernel's (``stop_on_error`` defaults to true there)."""

    code: str
    silent: bool = False
    store_history: bool = True
    user_expressions: dict[str, str] = Field(default_factory=dict)
    allow_stdin: bool = True
    stop_on_error: bool = True


class ExecuteReplyContent(ReplyContent):
    execution_count: int | None = None
    payload: list[dict[str, Any]] = Field(default_factory=list)
    user_expressions: dict[str, Any] = Field(default_factory=dict)


class InspectRequestContent(Content):
    code: str
    cursor_pos: int
    detail_level: int = 0


class InspectReplyContent(ReplyContent):
    found: bool = False
    data: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class CompleteRequestContent(Content):
    code: str
    cursor_pos: int


class CompleteReplyContent(ReplyContent):
    matches: list[str] = Field(default_factory=list)
    cursor_start: int | None = None
    cursor_end: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class HistoryRequestContent(Content):
    output: bool = False
    raw: bool = True
    hist_access_type: str = "range"
    session: int | None = None
    start: int | None = None
    stop: int | None = None
    n: int | None = None
    pattern: str | None = None
    unique: bool = False


class HistoryReplyContent(ReplyContent):
    """``history`` holds ``(session, line, input)`` or ``(session, line, (input, output))``.

    Entries are kept as given: lists after JSON, tuples from an in-process kernel.
    """

    history: list[list[Any] | tuple[Any, ...]] = Field(default_factory=list)


class IsCompleteRequestContent(Content):
    code: str


class IsCompleteReplyContent(Content):
    """Not a :class:`ReplyContent`: its status has its own vocabulary (plus ``error``)."""

    status: Literal["complete", "incomplete", "invalid", "unknown", "error"]
    indent: str | None = None
    ename: str | None = None
    evalue: str | None = None
    traceback: list[str] | None = None


class ConnectRequestContent(Content):
    """Deprecated since 5.1, still answered by ipykernel."""


class ConnectReplyContent(ReplyContent):
    shell_port: int | None = None
    iopub_port: int | None = None
    stdin_port: int | None = None
    hb_port: int | None = None
    control_port: int | None = None


class CommInfoRequestContent(Content):
    target_name: str | None = None


class CommInfo(Content):
    target_name: str


class CommInfoReplyContent(ReplyContent):
    comms: dict[str, CommInfo] = Field(default_factory=dict)


class KernelInfoRequestContent(Content):
    pass


class LanguageInfo(Content):
    name: str
    version: str | None = None
    mimetype: str | None = None
    file_extension: str | None = None
    pygments_lexer: str | None = None
    codemirror_mode: str | dict[str, Any] | None = None
    nbconvert_exporter: str | None = None


class HelpLink(Content):
    text: str
    url: str


class KernelInfoReplyContent(ReplyContent):
    """``supported_features`` (JEP 92) lists e.g. ``"debugger"``, ``"kernel subshells"``."""

    protocol_version: str | None = None
    implementation: str | None = None
    implementation_version: str | None = None
    language_info: LanguageInfo | None = None
    banner: str | None = None
    help_links: list[HelpLink] = Field(default_factory=list)
    debugger: bool | None = None
    supported_features: list[str] = Field(default_factory=list)


# --- control -----------------------------------------------------------------------


class ShutdownRequestContent(Content):
    restart: bool = False


class ShutdownReplyContent(ReplyContent):
    restart: bool = False


class InterruptRequestContent(Content):
    pass


class InterruptReplyContent(ReplyContent):
    pass


class DebugRequestContent(Content):
    """A Debug Adapter Protocol request, e.g. ``command="inspectVariables"``."""

    seq: int
    type: Literal["request"] = "request"
    command: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class DebugReplyContent(Content):
    """A DAP response. ipykernel replies ``{}`` when it has no debugger, so all optional."""

    seq: int | None = None
    type: Literal["response"] | None = None
    request_seq: int | None = None
    success: bool | None = None
    command: str | None = None
    message: str | None = None
    body: dict[str, Any] = Field(default_factory=dict)


class CreateSubshellRequestContent(Content):
    pass


class CreateSubshellReplyContent(ReplyContent):
    subshell_id: str | None = None


class DeleteSubshellRequestContent(Content):
    subshell_id: str


class DeleteSubshellReplyContent(ReplyContent):
    pass


class ListSubshellRequestContent(Content):
    pass


class ListSubshellReplyContent(ReplyContent):
    """``subshell_id`` is the list of subshell ids (ipykernel's spelling, not ``subshell_ids``)."""

    subshell_id: list[str] = Field(default_factory=list)


# --- iopub -------------------------------------------------------------------------


class StreamContent(Content):
    name: str
    text: str


class Transient(Content):
    """Display data that must never be persisted (``display_id`` lives here)."""

    display_id: str | None = None


class DisplayDataContent(Content):
    data: dict[str, Any]
    metadata: dict[str, Any] = Field(default_factory=dict)
    transient: Transient | None = None

    @property
    def display_id(self) -> str | None:
        return self.transient.display_id if self.transient is not None else None


class UpdateDisplayDataContent(DisplayDataContent):
    """Same shape as display_data; ``transient.display_id`` names the display to update."""


class ExecuteInputContent(Content):
    code: str
    execution_count: int | None = None


class ExecuteResultContent(DisplayDataContent):
    execution_count: int | None = None


class ErrorContent(Content):
    ename: str
    evalue: str
    traceback: list[str]


class StatusContent(Content):
    """``busy``, ``idle``, ``starting`` from the kernel; jupyter_server adds
    ``restarting``, ``autorestarting`` and ``dead``. Kept as a plain string."""

    execution_state: str


class ClearOutputContent(Content):
    wait: bool = False


class DebugEventContent(Content):
    """A DAP event, e.g. ``event="stopped"``."""

    seq: int
    type: Literal["event"] = "event"
    event: str
    body: dict[str, Any] = Field(default_factory=dict)


class IoPubWelcomeContent(Content):
    """Sent by XPUB kernels (JEP 65) to a new iopub subscriber."""

    subscription: str = ""


class CommOpenContent(Content):
    comm_id: str
    target_name: str
    data: dict[str, Any] = Field(default_factory=dict)
    target_module: str | None = None


class CommMsgContent(Content):
    comm_id: str
    data: dict[str, Any] = Field(default_factory=dict)


class CommCloseContent(Content):
    comm_id: str
    data: dict[str, Any] = Field(default_factory=dict)


# --- stdin -------------------------------------------------------------------------


class InputRequestContent(Content):
    prompt: str = ""
    password: bool = False


class InputReplyContent(Content):
    value: str
