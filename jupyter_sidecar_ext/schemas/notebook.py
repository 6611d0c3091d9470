"""Typed models of the nbformat v4 notebook (minor versions 0 to 5).

Cells are discriminated on ``cell_type`` and outputs on ``output_type``; a type this module
does not know (a future minor version) is kept whole in :class:`UnrecognizedCell` or
:class:`UnrecognizedOutput`, as nbformat allows. As in the schema, cells, outputs and the
notebook forbid extra fields (rejected, not silently trimmed), while metadata objects and the
unrecognized types keep them. Values are kept as given (``source`` a string or a list of
strings: :attr:`CodeCell.text` or :func:`join_multiline` join them; ``id`` absent on pre-4.5
cells), and ``to_dict()`` adds only what the schema requires, so ``notebook_from_dict(nb)
.to_dict() == nb`` for a valid notebook, and a model built in code dumps as valid nbformat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, JsonValue, Tag, TypeAdapter

__all__ = [
    "Cell",
    "CellMetadata",
    "CodeCell",
    "DisplayDataOutput",
    "ErrorOutput",
    "ExecuteResultOutput",
    "KernelSpec",
    "LanguageInfo",
    "MarkdownCell",
    "MultilineString",
    "Notebook",
    "NotebookMetadata",
    "Output",
    "RawCell",
    "StreamOutput",
    "UnrecognizedCell",
    "UnrecognizedOutput",
    "cell_adapter",
    "join_multiline",
    "notebook_from_dict",
    "output_adapter",
    "output_from_iopub",
]

MultilineString = str | list[str]


def join_multiline(value: MultilineString) -> str:
    """The text of a multiline string field: lines joined with ``""`` (they keep their ``\\n``)."""
    return value if isinstance(value, str) else "".join(value)


class _NbModel(BaseModel):
    """Base: strict, and the fields nbformat requires are always dumped."""

    model_config = ConfigDict(extra="forbid", strict=True)

    _optional: ClassVar[frozenset[str]] = frozenset()

    def model_post_init(self, context: Any, /) -> None:
        missing = type(self).model_fields.keys() - self._optional - self.model_fields_set
        if missing:
            self.__pydantic_fields_set__.update(missing)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: what was given, plus the fields the schema requires."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


class _OpenModel(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


# --- metadata ----------------------------------------------------------------------


class KernelSpec(_OpenModel):
    name: str
    display_name: str


class LanguageInfo(_OpenModel):
    name: str
    version: str | None = None
    mimetype: str | None = None
    file_extension: str | None = None
    pygments_lexer: str | None = None
    codemirror_mode: str | dict[str, Any] | None = None
    nbconvert_exporter: str | None = None


class NotebookMetadata(_OpenModel):
    kernelspec: KernelSpec | None = None
    language_info: LanguageInfo | None = None
    title: str | None = None
    authors: list[dict[str, Any]] | None = None
    orig_nbformat: int | None = None


class CellMetadata(_OpenModel):
    name: str | None = None
    tags: list[str] | None = None
    jupyter: dict[str, Any] | None = None
    collapsed: bool | None = None
    scrolled: bool | Literal["auto"] | None = None
    execution: dict[str, str] | None = None
    format: str | None = None


# --- outputs -----------------------------------------------------------------------


class StreamOutput(_NbModel):
    output_type: Literal["stream"] = "stream"
    name: str
    text: MultilineString


class DisplayDataOutput(_NbModel):
    output_type: Literal["display_data"] = "display_data"
    data: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ExecuteResultOutput(_NbModel):
    output_type: Literal["execute_result"] = "execute_result"
    execution_count: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ErrorOutput(_NbModel):
    output_type: Literal["error"] = "error"
    ename: str
    evalue: str
    traceback: list[str] = Field(default_factory=list)


_OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "error"})
_CELL_TYPES = frozenset({"code", "markdown", "raw"})


def _other_than(known: frozenset[str]) -> Any:
    """A type field's JSON schema that excludes the known types: exactly one branch of the
    union matches (the schema is a `oneOf`)."""
    excluded: list[JsonValue] = [*sorted(known)]
    return Field(json_schema_extra={"not": {"enum": excluded}})


class UnrecognizedOutput(_OpenModel):
    """An output type from a future nbformat minor version, kept whole."""

    output_type: str = _other_than(_OUTPUT_TYPES)


def _tag_on(key: str, known: frozenset[str]) -> Any:
    def tag(value: Any) -> str:
        kind = value.get(key) if isinstance(value, Mapping) else getattr(value, key, None)
        return kind if isinstance(kind, str) and kind in known else "unrecognized"

    return Discriminator(tag)


Output = Annotated[
    Annotated[StreamOutput, Tag("stream")]
    | Annotated[DisplayDataOutput, Tag("display_data")]
    | Annotated[ExecuteResultOutput, Tag("execute_result")]
    | Annotated[ErrorOutput, Tag("error")]
    | Annotated[UnrecognizedOutput, Tag("unrecognized")],
    _tag_on("output_type", _OUTPUT_TYPES),
]

# --- cells -------------------------------------------------------------------------


class _CellBase(_NbModel):
    _optional = frozenset({"id", "attachments"})

    id: str | None = None
    metadata: CellMetadata = Field(default_factory=CellMetadata)
    source: MultilineString = ""

    @property
    def text(self) -> str:
        """The source as one string."""
        return join_multiline(self.source)


class CodeCell(_CellBase):
    cell_type: Literal["code"] = "code"
    outputs: list[Output] = Field(default_factory=list)
    execution_count: int | None = None


class MarkdownCell(_CellBase):
    cell_type: Literal["markdown"] = "markdown"
    attachments: dict[str, dict[str, Any]] | None = None


class RawCell(_CellBase):
    cell_type: Literal["raw"] = "raw"
    attachments: dict[str, dict[str, Any]] | None = None


class UnrecognizedCell(_OpenModel):
    """A cell type from a future nbformat minor version, kept whole."""

    cell_type: str = _other_than(_CELL_TYPES)
    metadata: dict[str, Any] = Field(default_factory=dict)


Cell = Annotated[
    Annotated[CodeCell, Tag("code")]
    | Annotated[MarkdownCell, Tag("markdown")]
    | Annotated[RawCell, Tag("raw")]
    | Annotated[UnrecognizedCell, Tag("unrecognized")],
    _tag_on("cell_type", _CELL_TYPES),
]


class Notebook(_NbModel):
    nbformat: Literal[4] = 4
    nbformat_minor: int = 5
    metadata: NotebookMetadata = Field(default_factory=NotebookMetadata)
    cells: list[Cell] = Field(default_factory=list)


output_adapter: TypeAdapter[Output] = TypeAdapter(Output)
cell_adapter: TypeAdapter[Cell] = TypeAdapter(Cell)


def notebook_from_dict(d: Mapping[str, Any]) -> Notebook:
    """Validate a notebook dict (e.g. ``json.load`` of an .ipynb, or a NotebookNode)."""
    return Notebook.model_validate(d)


def output_from_iopub(msg_type: str, content: Mapping[str, Any] | BaseModel) -> Output | None:
    """The nbformat output for an iopub message, or None if it makes no output.

    Same result as ``nbformat.v4.output_from_msg`` for ``stream``, ``display_data``,
    ``execute_result`` and ``error``; ``transient`` and any other non-nbformat field is
    dropped, and a missing ``metadata`` becomes ``{}``. ``update_display_data`` and
    ``clear_output`` are not outputs (they change existing ones): None.
    Values are not deep-copied: copy ``data`` first if the message's objects are mutated.
    """
    c: Mapping[str, Any] = content.model_dump() if isinstance(content, BaseModel) else content
    if msg_type == "stream":
        return StreamOutput(name=c["name"], text=c["text"])
    if msg_type == "display_data":
        return DisplayDataOutput(data=dict(c["data"]), metadata=dict(c.get("metadata") or {}))
    if msg_type == "execute_result":
        return ExecuteResultOutput(
            execution_count=c.get("execution_count"),
            data=dict(c["data"]),
            metadata=dict(c.get("metadata") or {}),
        )
    if msg_type == "error":
        return ErrorOutput(ename=c["ename"], evalue=c["evalue"], traceback=list(c["traceback"]))
    return None
