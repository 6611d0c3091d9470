"""Bodies and answers of the REST API (`{base_url}api/sidecar`), defined once.

Handlers validate request bodies with the request models (strict: `"5"` is not a number, `1` is
not a string) and shape their answers with the response models; the CLI reads answers with
them; `openapi.json` is generated from them. Answers keep fields a model does not name
(`extra="allow"`): a client ignores what it does not know, and a newer server may say more.
Nothing here is on the kernel-message hot path: one validation per REST request.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from .notebook import Output

Tool = Literal["isort", "black", "ruff"]
CellStatus = Literal["queued", "running", "ok", "error", "aborted"]

# -- requests ----------------------------------------------------------------------------------


class _Request(BaseModel):
    """A request body: strict types, unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid")


def _join_lines(value: Any) -> Any:
    """nbformat's multi-line form (a list of strings) as one string."""
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    return value


class LintCell(BaseModel):
    """A cell to format; other fields of a notebook cell (cell_type, ...) are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")

    id: str
    source: Annotated[str, BeforeValidator(_join_lines, json_schema_input_type=str | list[str])]


class LintOptions(_Request):
    """Per-request tool options; the lint service checks the names and values."""

    black: dict[str, Any] = Field(default_factory=dict, description="black's options")
    isort: dict[str, Any] = Field(default_factory=dict, description="isort's options")


class LintRequest(_Request):
    """`POST /api/sidecar/lint`. The cell limit comes in the validation context
    (`{"max_cells": N}`): it is the server's setting."""

    cells: list[LintCell]
    path: str | None = Field(
        default=None,
        description="The notebook's or file's path, for its settings; .py: whole files",
    )
    tools: Annotated[list[Tool], Field(min_length=1)] | None = Field(
        default=None,
        description='In this order, or ["ruff"] alone; default: the server\'s formatter '
        "setting, which may let the project's config choose (README: Lint)",
    )
    options: LintOptions | None = None
    check: bool = Field(
        default=False,
        description="Check with ruff instead of formatting: each cell gets `diagnostics`, its "
        "source is returned as it came (tools and options are not used)",
    )

    @field_validator("cells", mode="before")
    @classmethod
    def _at_most_max_cells(cls, value: Any, info: ValidationInfo) -> Any:
        limit = (info.context or {}).get("max_cells")
        if isinstance(value, list) and limit is not None and len(value) > limit:
            raise PydanticCustomError(
                "too_many_cells",
                "too many cells: {count} (at most {limit})",
                {"count": len(value), "limit": limit},
            )
        return value

    @field_validator("tools")
    @classmethod
    def _distinct(cls, value: list[Tool] | None) -> list[Tool] | None:
        if value is not None and len(set(value)) != len(value):
            raise PydanticCustomError("repeated_tool", "tools must not repeat")
        return value


class ExecuteRequest(_Request):
    """`POST /api/sidecar/kernels/{kernel_id}/execute`."""

    code: str
    cell_id: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="Record the run under this cell id (default: its msg_id)"
    )
    timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        default=None,
        description="Seconds; past them a queued run is dropped, a running one interrupted",
    )


class InputAnswer(_Request):
    """`POST /api/sidecar/kernels/{kernel_id}/input`: the answer to the pending input()."""

    value: str = Field(description='What the user typed (without the newline; "\\x04": EOF)')


class PlanCellBody(BaseModel):
    """A notebook cell for a plan; other fields of a notebook cell are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")

    id: Annotated[str, Field(min_length=1)]
    source: Annotated[str, BeforeValidator(_join_lines, json_schema_input_type=str | list[str])]


class PlanRequest(_Request):
    """`POST .../kernels/{kernel_id}/plan` and `.../run`: the notebook's current code cells
    in order, the cell to plan for, and which way."""

    cells: Annotated[list[PlanCellBody], Field(max_length=10_000)]
    target: Annotated[str, Field(min_length=1)]
    direction: Literal["upstream", "downstream"] = Field(
        description="upstream: what the target needs (missing or stale), then the target; "
        "downstream: the target, then every cell reading what it defines"
    )

    @field_validator("cells")
    @classmethod
    def _distinct_ids(cls, value: list[PlanCellBody]) -> list[PlanCellBody]:
        if len({cell.id for cell in value}) != len(value):
            raise PydanticCustomError("repeated_cell", "cell ids must not repeat")
        return value


# -- answers -----------------------------------------------------------------------------------


class _Answer(BaseModel):
    """An answer: what the server sends, fields beyond the model's kept."""

    model_config = ConfigDict(extra="allow")


class ErrorBody(_Answer):
    """Every 4xx/5xx answer of the API."""

    message: str
    reason: str | None = None


class Info(_Answer):
    version: str
    features: list[str] = Field(
        description="Of record, notebook, events, persist, execute, queue, variables, lint, "
        "check, dataflow, shared_documents"
    )


class KernelSummary(_Answer):
    kernel_id: str
    kernel_name: str | None
    alive: bool
    execution_state: str | None = Field(description='"gone" for a kernel of an earlier run')
    connections: int
    cells: int
    queued: int
    last_activity: str | None
    path: str | None
    updated: str


class KernelList(RootModel[list[KernelSummary]]):
    """The kernels the sidecar knows, newest first."""


class InputRequest(_Answer):
    """The kernel waits for this input (input() or getpass()) from the run's requester."""

    prompt: str
    password: bool


class StaleReason(_Answer):
    """Why a recorded cell is stale: `name` was redefined by execution `execution_count` of
    cell `cell_id` at `at` after it ran."""

    name: str
    cell_id: str
    execution_count: int | None
    at: str | None


class ShadowCell(_Answer):
    """One recorded execution, as the server keeps it."""

    id: str
    msg_id: str
    source: str
    status: CellStatus
    execution_count: int | None
    outputs: list[Output] = Field(description="nbformat v4 outputs")
    started: str | None
    ended: str | None
    seq: int
    truncated: bool = False
    run: int = 0
    stale: bool = False
    stale_because: list[StaleReason] = Field(
        default_factory=list,
        description="Names this cell used that later executions of other cells redefined "
        "(dataflow); empty when current",
    )
    gap: bool = False
    input_request: InputRequest | None = Field(
        default=None,
        description="Pending input: answer it with POST .../kernels/{kernel_id}/input",
    )
    unwatched: bool = Field(
        default=False,
        description="It ended while no client page of the kernel had a websocket open "
        "(nobody saw it finish): what a page opened later reports as run meanwhile",
    )


class ShadowNotebook(_Answer):
    kernel_id: str
    path: str | None
    alive: bool
    seq: int
    run: int
    cells: list[ShadowCell]


class Variable(_Answer):
    name: str
    type: str
    value: str
    size: int | None = Field(description="Bytes, where known exactly (else null)")
    shape: list[int] | None = Field(description="Dimensions, where known exactly (else null)")
    length: int | None = Field(
        default=None, description="Items, rows or characters (the first dimension), or null"
    )
    shape_text: str | None = Field(
        default=None, description="The shape with its unit: '2 rows x 3 cols', '(2, 3)', ..."
    )
    size_text: str | None = Field(default=None, description="The size with its unit: '1.2 KB'")


class VariablesSnapshot(_Answer):
    """From the sidecar's cache: never waits for the kernel."""

    kernel_id: str
    state: Literal["ok", "unavailable", "pending"]
    reason: str | None = None
    stale: bool
    updated_at: str | None
    execution_count: int | None
    kernel_busy: bool
    count: int
    truncated: bool
    variables: list[Variable]
    rows_version: str | None = Field(
        default=None,
        description="Changes whenever `variables`, `count` or `truncated` change (null: no "
        "rows); the `variables_updated` event carries it, so a client holding these rows "
        "can skip reading them again",
    )


class RichVariable(_Answer):
    """One variable's display (a mime bundle), asked of the kernel on demand."""

    kernel_id: str
    name: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    truncated: bool
    error: str | None = None


ChildKey = str | int | float | bool | None


class VariableChild(_Answer):
    key: ChildKey = Field(
        description="Dict key (as JSON when it is a string, number, bool or null, else its "
        "repr), index (list, tuple, set in iteration order, array first axis, Series "
        "position), attribute name, or DataFrame column label: the next element of `path`"
    )
    type: str
    value: str | None = Field(description="Bounded repr; null when `error` says why")
    shape: list[int] | None
    size: int | None
    shape_text: str | None = None
    size_text: str | None = None
    expandable: bool
    error: str | None = Field(description="Why the value is not shown (a raising or slow repr)")


class VariableChildren(_Answer):
    """One page of the children of a variable at `path`, asked of the kernel's subshell."""

    kernel_id: str
    name: str
    path: list[ChildKey]
    offset: int
    limit: int
    total: int
    children: list[VariableChild]
    truncated: bool = Field(description="More children follow this page")


class TableColumn(_Answer):
    name: str
    dtype: str


class VariableRows(_Answer):
    """One page of a DataFrame's, Series' or array's rows, cells as display strings."""

    kernel_id: str
    name: str
    offset: int
    limit: int
    total_rows: int
    columns: list[TableColumn]
    index: list[ChildKey] = Field(description="The rows' index labels (positions for arrays)")
    rows: list[list[str]]
    sort: str | None
    ascending: bool


class DataflowCell(_Answer):
    """A recorded cell's dataflow, from its latest execution in the kernel's current run."""

    id: str
    execution_count: int | None
    source: str = Field(
        description="The code as it ran: a cell whose source differs now was edited since"
    )
    defines: list[str]
    uses: list[str] = Field(description="Names read before the cell defines them")
    stale_because: list[StaleReason]
    hidden_names: list[str] = Field(
        description="Names used that only executions of deleted or since-edited cells defined"
    )
    analysed: bool
    error: str | None = Field(default=None, description="Why the code could not be analysed")


class DataflowEdge(_Answer):
    model_config = ConfigDict(extra="allow", serialize_by_alias=True, validate_by_name=True)

    from_: str = Field(alias="from", description="The cell whose execution defined the names")
    to: str
    names: list[str]


class Dataflow(_Answer):
    kernel_id: str
    cells: list[DataflowCell]
    edges: list[DataflowEdge]


class Plan(_Answer):
    kernel_id: str
    target: str
    direction: Literal["upstream", "downstream"]
    cells: list[str] = Field(description="The cell ids to run, in order")


class PlannedRun(_Answer):
    id: str
    msg_id: str


class PlanQueued(_Answer):
    kernel_id: str
    target: str
    direction: Literal["upstream", "downstream"]
    cells: list[PlannedRun] = Field(description="Queued in this order; each can be dequeued")


class QueueEntry(_Answer):
    msg_id: str
    cell_id: str | None
    code: str
    session: str
    source: Literal["websocket", "http"]
    queued_at: str


class QueueState(_Answer):
    kernel_id: str
    enabled: bool
    running: QueueEntry | None
    queued: list[QueueEntry]


class QueueRemoval(_Answer):
    msg_id: str
    removed: Literal[True]


class Position(_Answer):
    """A place in a cell: line and column (characters) 1-based."""

    line: int
    column: int


class FixEdit(_Answer):
    """Replace the text from `location` up to `end_location` (excluded) by `content`."""

    content: str
    location: Position
    end_location: Position


class Fix(_Answer):
    message: str
    edits: list[FixEdit]


class Diagnostic(_Answer):
    """A problem ruff found in a cell; positions within the cell, 1-based, end excluded."""

    line: int
    column: int
    end_line: int
    end_column: int
    code: str = Field(description="ruff's rule code (F401...), invalid-syntax or magic")
    message: str
    severity: Literal["error", "warning"]
    fix: Fix | None = Field(default=None, description="ruff's safe fix, as edits of this cell")


class QueueInterrupt(_Answer):
    kernel_id: str
    interrupted: str | None = Field(
        description="msg_id of the request that was running when the kernel was interrupted"
    )
    continued: bool = Field(
        description="Whether the waiting requests go on (continue=true) rather than being "
        "aborted by the interrupted one's error, as ipykernel would"
    )
    waiting: int = Field(description="Requests waiting in the queue")


class LintedCell(_Answer):
    id: str
    source: str
    changed: bool
    error: str | None = Field(default=None, description="Why this cell was left as it was")
    diagnostics: list[Diagnostic] | None = Field(
        default=None, description="With `check`: what ruff found in this cell"
    )


class LintResult(_Answer):
    cells: list[LintedCell]
    tools: list[Tool] | None = Field(
        default=None, description="The tools that formatted the cells (absent with `check`)"
    )


class ExecuteResult(_Answer):
    """The end of a run (also the last line of a streamed one, where status may be timeout)."""

    status: Literal["ok", "error", "aborted", "timeout"]
    execution_count: int | None
    outputs: list[Output]
    msg_id: str | None
    message: str | None = Field(default=None, description="Set when something needs explaining")


class InputAnswered(_Answer):
    """The answer went to the kernel, for this run's pending input."""

    kernel_id: str
    msg_id: str
    cell_id: str


class InputPending(ErrorBody):
    """409 of a JSON-mode execute whose code asked for input: the run waits in the kernel
    until answered with POST .../input (or interrupted)."""

    msg_id: str
    input_request: InputRequest


class StreamedMessage(_Answer):
    """A kernel message of a streamed run (one NDJSON line)."""

    channel: str
    msg_type: str
    msg_id: str | None
    header: dict[str, Any]
    parent_header: dict[str, Any]
    metadata: dict[str, Any]
    content: dict[str, Any]


class StreamTruncated(_Answer):
    """Lines dropped here because the client read too slowly (the recorded cell has them,
    truncated as `max_output_bytes` says)."""

    type: Literal["truncated"]
    dropped_messages: int
    dropped_bytes: int
    message: str


class StreamLine(RootModel[StreamedMessage | StreamTruncated]):
    """One NDJSON line of a streamed run before its result line."""


# -- validation errors, for users ----------------------------------------------------------------

_PART_CHARS = 40  # a field name is the user's text: never echo a huge one back
_MAX_ERRORS = 3
_MAX_PARTS = 8  # of a location named in a message
Location = tuple[str, ...]  # keys and list indexes of a JSON body, as text
_JSON_WORDING = {
    "model_type": "Input should be an object",
    "dict_type": "Input should be an object",
}


def _part(part: str | int) -> str:
    text = str(part)
    return text if len(text) <= _PART_CHARS else text[: _PART_CHARS - 1] + "…"


def describe(error: ValidationError, model: type[BaseModel]) -> str:
    """`field: reason` for each problem (`cells.0.source: Input should be a valid string`),
    never the input itself (it may be huge or secret)."""
    problems = []
    for item in error.errors(include_input=False, include_url=False)[:_MAX_ERRORS]:
        loc = [_part(part) for part in item["loc"]]
        if item["type"] == "extra_forbidden":
            known = ", ".join(sorted(_fields_at(model, item["loc"][:-1])))
            where = ".".join(loc[:-1])
            text = f"unknown field {loc[-1]!r} (known: {known})"
            problems.append(f"{where}: {text}" if where else text)
            continue
        reason = _JSON_WORDING.get(item["type"], item["msg"])
        problems.append(f"{'.'.join(loc)}: {reason}" if loc else reason)
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def invalid_text(body: Any, exempt: tuple[Location, ...] = ()) -> str | None:
    """Why a decoded JSON body cannot be used as text, or None. JSON may carry a lone
    surrogate (`"\\ud800"`), which Python decodes but no UTF-8 encoder (a kernel message,
    a file, a log line) accepts: say where it is, as for a validation error. Strings at an
    `exempt` location (`("cells", "*", "source")`) are the handler's to judge item by item."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # one pass in C: the usual case
        return None
    except (UnicodeEncodeError, RecursionError):  # RecursionError: walk it without recursion
        pass
    loc = _surrogate_at(body, exempt)
    if loc is None:
        return None
    if len(loc) > _MAX_PARTS:
        loc = (*loc[: _MAX_PARTS - 3], "…", *loc[-2:])
    where = ".".join(_part(part.encode("utf-8", "backslashreplace").decode()) for part in loc)
    reason = "text is not valid Unicode (a lone surrogate such as \\ud800)"
    return f"{where}: {reason}" if where else reason


def _surrogate_at(body: Any, exempt: tuple[Location, ...]) -> Location | None:
    """The location (keys and indexes, as text) of the first string that is not valid
    Unicode (a bad key is its own location), or None. Iterative: bodies nest deeply."""
    stack: list[tuple[Location, Any]] = [((), body)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, str):
            if not _encodes(value) and not any(_matches(loc, where) for where in exempt):
                return loc
        elif isinstance(value, dict):
            for key in value:
                if not _encodes(key):
                    return (*loc, key)
            stack.extend(((*loc, key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*loc, str(i)), item) for i, item in reversed(list(enumerate(value))))
    return None


def _matches(loc: Location, pattern: Location) -> bool:
    if len(loc) != len(pattern):
        return False
    return all(p in ("*", part) for part, p in zip(loc, pattern, strict=True))


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _fields_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The field names of the (nested) model at `loc`, for "known: ..."."""
    for part in loc:
        field = model.model_fields.get(str(part))
        nested = _model_in(field.annotation if field is not None else None)
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
