"""Typed models of Jupyter kernel messages (messaging protocol 5.4).

Every known message type is a model whose ``header.msg_type`` is a ``Literal`` and whose
``content`` is the matching model from :mod:`.message_content`. :data:`Message` is the
union of them all plus :class:`UnknownMessage`, the fallback that keeps anything.

Parsing contract:

- :func:`parse_message` picks the model from ``header.msg_type``. An unknown msg_type
  gives an :class:`UnknownMessage` and never raises. A *known* msg_type whose
  header/content does not fit its model raises :class:`pydantic.ValidationError`: a
  typed model is a promise about its fields.
- :func:`parse_message_lenient` never raises for a dict shaped like a message (header
  and content are mappings): on a validation error it returns an ``UnknownMessage``.
  Use it on hot paths, where a malformed message must not stop the traffic.

Round trips: every model keeps unknown fields (``extra="allow"``) and values are kept as
given (``header.date`` stays a ``str`` or a ``datetime``; strict validation never coerces),
so ``parse_message(d).to_dict() == d``. That includes the top-level ``msg_id`` and
``msg_type`` copies that ``jupyter_client.Session`` adds (kept as extra fields; the
``msg_id``/``msg_type`` properties read the header). ``to_dict`` dumps with
``exclude_unset=True``: defaults never appear in the output unless they were given;
``to_dict(mode="json")`` gives JSON-ready values (buffers as base64 text).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar, Union, cast, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    InstanceOf,
    PlainSerializer,
    Tag,
    TypeAdapter,
    ValidationError,
)

from . import message_content as mc

Channel = Literal["shell", "control", "iopub", "stdin"]

MT = TypeVar("MT", bound=str)
C = TypeVar("C", bound=BaseModel)


def _buffer_to_base64(value: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


Buffer = Annotated[
    bytes | InstanceOf[bytearray] | InstanceOf[memoryview],
    PlainSerializer(_buffer_to_base64, return_type=str, when_used="json"),
]
"""A binary buffer, kept as the object given; base64 text in JSON-mode dumps."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class Header(_Model, Generic[MT]):
    """A message header. ``date`` is kept as given: an ISO string or a ``datetime``."""

    msg_id: str
    msg_type: MT
    session: str
    username: str
    date: str | datetime
    version: str
    subshell_id: str | None = None


class PartialHeader(_Model):
    """A header whose fields may all be missing: ``parent_header`` is ``{}`` on requests."""

    msg_id: str | None = None
    msg_type: str | None = None
    session: str | None = None
    username: str | None = None
    date: str | datetime | None = None
    version: str | None = None
    subshell_id: str | None = None


class _Envelope(_Model):
    """Fields every message has besides ``header`` and ``content``."""

    parent_header: PartialHeader = Field(default_factory=PartialHeader)
    metadata: dict[str, Any] = Field(default_factory=dict)
    buffers: list[Buffer] = Field(default_factory=list)

    @property
    def parent_msg_id(self) -> str | None:
        return self.parent_header.msg_id

    def to_dict(self, *, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        """The message as a dict, exactly as parsed (plus any changes made since)."""
        return self.model_dump(mode=mode, exclude_unset=True, by_alias=True)


class BaseMessage(_Envelope, Generic[MT, C]):
    """A message of a known type: typed header and content."""

    header: Header[MT]
    content: C
    channel: Channel | None = None

    @property
    def msg_id(self) -> str:
        return self.header.msg_id

    @property
    def msg_type(self) -> MT:
        return self.header.msg_type


class UnknownMessage(_Envelope):
    """Fallback for msg_types not modelled here (or malformed ones, when lenient)."""

    header: PartialHeader
    content: dict[str, Any] = Field(default_factory=dict)
    channel: str | None = None

    @property
    def msg_id(self) -> str | None:
        return self.header.msg_id

    @property
    def msg_type(self) -> str | None:
        return self.header.msg_type


# --- shell -------------------------------------------------------------------------


class ExecuteRequest(BaseMessage[Literal["execute_request"], mc.ExecuteRequestContent]): ...


class ExecuteReply(BaseMessage[Literal["execute_reply"], mc.ExecuteReplyContent]): ...


class InspectRequest(BaseMessage[Literal["inspect_request"], mc.InspectRequestContent]): ...


class InspectReply(BaseMessage[Literal["inspect_reply"], mc.InspectReplyContent]): ...


class CompleteRequest(BaseMessage[Literal["complete_request"], mc.CompleteRequestContent]): ...


class CompleteReply(BaseMessage[Literal["complete_reply"], mc.CompleteReplyContent]): ...


class HistoryRequest(BaseMessage[Literal["history_request"], mc.HistoryRequestContent]): ...


class HistoryReply(BaseMessage[Literal["history_reply"], mc.HistoryReplyContent]): ...


class IsCompleteRequest(
    BaseMessage[Literal["is_complete_request"], mc.IsCompleteRequestContent]
): ...


class IsCompleteReply(BaseMessage[Literal["is_complete_reply"], mc.IsCompleteReplyContent]): ...


class ConnectRequest(BaseMessage[Literal["connect_request"], mc.ConnectRequestContent]): ...


class ConnectReply(BaseMessage[Literal["connect_reply"], mc.ConnectReplyContent]): ...


class CommInfoRequest(BaseMessage[Literal["comm_info_request"], mc.CommInfoRequestContent]): ...


class CommInfoReply(BaseMessage[Literal["comm_info_reply"], mc.CommInfoReplyContent]): ...


class KernelInfoRequest(
    BaseMessage[Literal["kernel_info_request"], mc.KernelInfoRequestContent]
): ...


class KernelInfoReply(BaseMessage[Literal["kernel_info_reply"], mc.KernelInfoReplyContent]): ...


# --- control -----------------------------------------------------------------------


class ShutdownRequest(BaseMessage[Literal["shutdown_request"], mc.ShutdownRequestContent]): ...


class ShutdownReply(BaseMessage[Literal["shutdown_reply"], mc.ShutdownReplyContent]): ...


class InterruptRequest(BaseMessage[Literal["interrupt_request"], mc.InterruptRequestContent]): ...


class InterruptReply(BaseMessage[Literal["interrupt_reply"], mc.InterruptReplyContent]): ...


class DebugRequest(BaseMessage[Literal["debug_request"], mc.DebugRequestContent]): ...


class DebugReply(BaseMessage[Literal["debug_reply"], mc.DebugReplyContent]): ...


class CreateSubshellRequest(
    BaseMessage[Literal["create_subshell_request"], mc.CreateSubshellRequestContent]
): ...


class CreateSubshellReply(
    BaseMessage[Literal["create_subshell_reply"], mc.CreateSubshellReplyContent]
): ...


class DeleteSubshellRequest(
    BaseMessage[Literal["delete_subshell_request"], mc.DeleteSubshellRequestContent]
): ...


class DeleteSubshellReply(
    BaseMessage[Literal["delete_subshell_reply"], mc.DeleteSubshellReplyContent]
): ...


class ListSubshellRequest(
    BaseMessage[Literal["list_subshell_request"], mc.ListSubshellRequestContent]
): ...


class ListSubshellReply(
    BaseMessage[Literal["list_subshell_reply"], mc.ListSubshellReplyContent]
): ...


# --- iopub -------------------------------------------------------------------------


class Stream(BaseMessage[Literal["stream"], mc.StreamContent]): ...


class DisplayData(BaseMessage[Literal["display_data"], mc.DisplayDataContent]): ...


class UpdateDisplayData(
    BaseMessage[Literal["update_display_data"], mc.UpdateDisplayDataContent]
): ...


class ExecuteInput(BaseMessage[Literal["execute_input"], mc.ExecuteInputContent]): ...


class ExecuteResult(BaseMessage[Literal["execute_result"], mc.ExecuteResultContent]): ...


class Error(BaseMessage[Literal["error"], mc.ErrorContent]): ...


class Status(BaseMessage[Literal["status"], mc.StatusContent]): ...


class ClearOutput(BaseMessage[Literal["clear_output"], mc.ClearOutputContent]): ...


class DebugEvent(BaseMessage[Literal["debug_event"], mc.DebugEventContent]): ...


class IoPubWelcome(BaseMessage[Literal["iopub_welcome"], mc.IoPubWelcomeContent]): ...


class CommOpen(BaseMessage[Literal["comm_open"], mc.CommOpenContent]): ...


class CommMsg(BaseMessage[Literal["comm_msg"], mc.CommMsgContent]): ...


class CommClose(BaseMessage[Literal["comm_close"], mc.CommCloseContent]): ...


# --- stdin -------------------------------------------------------------------------


class InputRequest(BaseMessage[Literal["input_request"], mc.InputRequestContent]): ...


class InputReply(BaseMessage[Literal["input_reply"], mc.InputReplyContent]): ...


KnownMessage = (
    ExecuteRequest
    | ExecuteReply
    | InspectRequest
    | InspectReply
    | CompleteRequest
    | CompleteReply
    | HistoryRequest
    | HistoryReply
    | IsCompleteRequest
    | IsCompleteReply
    | ConnectRequest
    | ConnectReply
    | CommInfoRequest
    | CommInfoReply
    | KernelInfoRequest
    | KernelInfoReply
    | ShutdownRequest
    | ShutdownReply
    | InterruptRequest
    | InterruptReply
    | DebugRequest
    | DebugReply
    | CreateSubshellRequest
    | CreateSubshellReply
    | DeleteSubshellRequest
    | DeleteSubshellReply
    | ListSubshellRequest
    | ListSubshellReply
    | Stream
    | DisplayData
    | UpdateDisplayData
    | ExecuteInput
    | ExecuteResult
    | Error
    | Status
    | ClearOutput
    | DebugEvent
    | IoPubWelcome
    | CommOpen
    | CommMsg
    | CommClose
    | InputRequest
    | InputReply
)
Message = KnownMessage | UnknownMessage


def _literal_msg_type(cls: type[BaseModel]) -> str:
    header = cast(type[BaseModel], cls.model_fields["header"].annotation)
    (msg_type,) = get_args(header.model_fields["msg_type"].annotation)
    return cast(str, msg_type)


MESSAGE_TYPES: dict[str, type[BaseMessage[Any, Any]]] = {
    _literal_msg_type(cls): cls for cls in get_args(KnownMessage)
}
"""msg_type -> model class, for every known msg_type."""

_UNKNOWN = "__unknown__"


def _tag_of(value: Any) -> str:
    header = value.get("header") if isinstance(value, Mapping) else getattr(value, "header", None)
    if isinstance(header, Mapping):
        msg_type = header.get("msg_type")
    else:
        msg_type = getattr(header, "msg_type", None)
    if isinstance(msg_type, str) and msg_type in MESSAGE_TYPES:
        return msg_type
    return _UNKNOWN


_tagged = tuple(Annotated[cls, Tag(tag)] for tag, cls in MESSAGE_TYPES.items())
_union = cast(Any, Union).__getitem__((*_tagged, Annotated[UnknownMessage, Tag(_UNKNOWN)]))

message_adapter: TypeAdapter[Message] = TypeAdapter(
    cast(Any, Annotated)[_union, Discriminator(_tag_of)]
)
"""Validates a dict into the :data:`Message` union (``validate_python`` / ``validate_json``)."""


def parse_message(d: Mapping[str, Any]) -> Message:
    """Parse a message dict into its typed model, or :class:`UnknownMessage`.

    Raises ``pydantic.ValidationError`` when a known msg_type does not fit its model,
    or when ``d`` is not message-shaped (no mapping ``header``).
    """
    return message_adapter.validate_python(d)


def parse_message_lenient(d: Mapping[str, Any]) -> Message:
    """Like :func:`parse_message`, but a malformed known message becomes an
    :class:`UnknownMessage` (still keeping every field) instead of raising.

    Raises ``pydantic.ValidationError`` only when ``d`` is not message-shaped.
    """
    try:
        return message_adapter.validate_python(d)
    except ValidationError:
        return UnknownMessage.model_validate(d)
