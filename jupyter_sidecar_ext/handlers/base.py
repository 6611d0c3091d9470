"""The base of every sidecar handler: JSON in and out, errors as `{"message": ...}`."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError
from tornado import web

from ..dataflow.service import DataflowService
from ..lint.service import LintService
from ..registry import SidecarRegistry
from ..schemas.api import ErrorBody, Location, describe, invalid_text
from ..schemas.openapi import Operation
from ..sidecar import KernelSidecar
from ..variables.service import VariablesService

M = TypeVar("M", bound=BaseModel)

# Seconds a request that sends to the kernel waits for its recorder to receive (a kernel just
# started, or restarting) before a 503.
READY_WAIT = 10.0


@dataclass
class Services:
    """What handlers depend on, built by the extension app and passed via initialize()."""

    registry: SidecarRegistry
    max_body_bytes: int = 10 * 1024 * 1024
    variables: VariablesService | None = None
    lint: LintService | None = None
    dataflow: DataflowService | None = None
    execution_queue: bool = True
    shared_documents: bool = False

    def features(self) -> list[str]:
        features = ["record", "notebook", "events", "persist", "execute"]
        if self.execution_queue:
            features.append("queue")
        if self.variables is not None:
            features.append("variables")
        if self.lint is not None:
            features.append("lint")
            if self.lint.can_check:
                features.append("check")
        if self.dataflow is not None:
            features.append("dataflow")
        if self.shared_documents:
            features.append("shared_documents")
        return features


class SidecarHandler(APIHandler):
    """Base: JSON errors, kernels resource, dependencies passed via initialize()."""

    auth_resource = "kernels"
    #: what openapi.json says of each verb this handler implements
    operations: ClassVar[tuple[Operation, ...]] = ()
    #: body strings (`("cells", "*", "source")`) that may be invalid Unicode: the handler
    #: answers for them item by item instead of refusing the whole body
    per_item_text: ClassVar[tuple[Location, ...]] = ()

    def initialize(self, services: Services) -> None:
        self.services = services

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload))

    def write_model(self, model: BaseModel, status: int = 200) -> None:
        """An answer shaped by its model: the fields it was given, as JSON."""
        self.write_json(model.model_dump(mode="json", exclude_unset=True), status)

    def write_answer(self, model: type[BaseModel], payload: Any) -> None:
        """`payload` (built by a service) checked against its documented model. A mismatch is
        our bug: logged, and the payload sent as it is rather than failing the request."""
        try:
            answer = model.model_validate(payload)
        except ValidationError as error:
            self.log.error("Sidecar answer is not a %s: %s", model.__name__, error)
            self.write_json(payload)
            return
        self.write_model(answer)

    def bad_request(self, message: str) -> None:
        """A 400 `{"message"}` written directly."""
        self.write_model(ErrorBody(message=message), status=400)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """As APIHandler's, but the message formatted: tornado's `HTTPError.log_message`
        doubles `%` when the error has no args, and APIHandler sends it as is
        (`Kernel not found: %%s`)."""
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if exc_info else None
        if not isinstance(error, web.HTTPError) or not error.log_message:
            super().write_error(status_code, **kwargs)
            return
        message = error.log_message % error.args  # undoes the escaping, or applies the args
        self.log.warning("wrote error: %r", message)
        self.set_header("Content-Type", "application/json")  # the status is set already
        self.finish(json.dumps({"message": message, "reason": error.reason}))

    def validated_body(self, model: type[M], context: dict[str, Any] | None = None) -> M | None:
        """The JSON body as `model`, or None after answering 400 with what is wrong."""
        body = self.json_body()
        try:
            return model.model_validate(body, context=context)
        except ValidationError as error:
            self.bad_request(describe(error, model))
            return None

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object: 413 when too large, 400 when not an object."""
        if len(self.request.body) > self.services.max_body_bytes:
            raise web.HTTPError(413, f"Request body over {self.services.max_body_bytes} bytes")
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError) as error:
            raise web.HTTPError(400, f"Body is not valid JSON: {error}") from None
        except RecursionError:  # json's decoder gives up on deep nesting this way
            raise web.HTTPError(400, "Body is nested too deeply") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "Body must be a JSON object")
        invalid = invalid_text(body, self.per_item_text)
        if invalid is not None:
            raise web.HTTPError(400, invalid)
        return body

    def live_sidecar(self, kernel_id: str) -> KernelSidecar | None:
        """The kernel's sidecar (adopted if needed); None for a running kernel it does not
        record (a gateway kernel the gateway says is gone); 404 for an unknown kernel."""
        sidecar = self.services.registry.find_or_adopt(kernel_id)
        if sidecar is None and kernel_id not in self.kernel_manager:
            raise web.HTTPError(404, f"Kernel not found: {kernel_id}")
        return sidecar

    async def until_receiving(self, sidecar: KernelSidecar) -> None:
        """Wait, up to READY_WAIT, until the sidecar receives the kernel's iopub, before
        sending the kernel anything of ours: what it publishes before that is never seen (a
        cell's outputs and idle: the cell would never finish). 503 when it does not."""
        if sidecar.receiving:
            return
        try:
            await asyncio.wait_for(sidecar.until_receiving(), READY_WAIT)
        except asyncio.TimeoutError:
            raise web.HTTPError(503, f"Kernel {sidecar.kernel_id} is not ready") from None

    async def stored_or_404(self, kernel_id: str) -> dict[str, Any]:
        """A kernel's notebook from the store (kernels of earlier server runs)."""
        stored = await self.services.registry.stored_notebook(kernel_id)
        if stored is None:
            raise web.HTTPError(404, f"Kernel not found: {kernel_id}")
        return stored
