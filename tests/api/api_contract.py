"""The API's published contract, checked on every response a test receives.

``Contract`` reads the OpenAPI document and the app's typed routes. Attached to an httpx client
(``contract.client(...)``), it checks each response of an API route as it arrives:

* the status code is one the operation declares (so never an undocumented 500);
* the body validates against the declared JSON Schema of that status (what the generated
  TypeScript client is built from);
* the body is exactly the serialisation of the typed public model (``PublicModel`` ignores
  unknown keys, so validating and re-serialising would drop any key the model does not declare:
  the two must be equal);
* errors are ``{"detail": "<one sentence>"}``; a 401 carries ``WWW-Authenticate: Bearer``;

and records which operation answered which status, for the coverage guard.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter

BAD_INPUT = frozenset({400, 404, 409, 422})


@dataclass
class Operation:
    """One operation of the OpenAPI document, with its typed route."""

    method: str
    path: str
    operation_id: str
    secured: bool
    responses: dict[str, Any]
    route: APIRoute
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        parts = [
            "[^/]+" if part.startswith("{") else re.escape(part) for part in self.path.split("/")
        ]
        self.pattern = re.compile("^" + "/".join(parts) + "$")

    @property
    def literal_segments(self) -> int:
        """Return how many path segments are fixed (a fixed path beats a template)."""
        return sum(1 for part in self.path.split("/") if part and not part.startswith("{"))

    def models(self, status: int) -> Any:
        """Return the typed model of a status (``None`` when there is none)."""
        if 200 <= status < 300:
            return self.route.response_model
        declared = self.route.responses.get(status) or self.route.responses.get(str(status))
        return declared.get("model") if declared else None


class ContractViolation(AssertionError):
    """A response broke the published contract."""


class Contract:
    """The OpenAPI document and typed routes of the API, and what the tests have exercised."""

    def __init__(self, document: dict[str, Any], app: FastAPI) -> None:
        self.document = document
        routes = {route.name: route for route in api_routes(app.routes)}
        self.operations: list[Operation] = []
        for path, methods in document["paths"].items():
            for method, spec in methods.items():
                self.operations.append(
                    Operation(
                        method=method.upper(),
                        path=path,
                        operation_id=spec["operationId"],
                        secured=bool(spec.get("security")),
                        responses=spec["responses"],
                        route=routes[spec["operationId"]],
                    )
                )
        # Most specific first: /orders/cancel-all before /orders/{client_order_id}.
        self.operations.sort(key=lambda op: -op.literal_segments)
        self.seen: dict[str, Counter[int]] = defaultdict(Counter)
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}
        self._adapters: dict[int, TypeAdapter[Any]] = {}

    def operation(self, operation_id: str) -> Operation:
        """Return the operation called ``operation_id``."""
        return next(op for op in self.operations if op.operation_id == operation_id)

    def match(self, method: str, path: str) -> Operation | None:
        """Return the operation a request addresses (None for non-API paths like /openapi.json)."""
        for op in self.operations:
            if op.method == method.upper() and op.pattern.match(path):
                return op
        return None

    def client(self, base_url: str, **kwargs: Any) -> httpx.Client:
        """Return an httpx client whose every API response is checked and recorded."""
        return httpx.Client(base_url=base_url, event_hooks={"response": [self.check]}, **kwargs)

    # ---- checking ------------------------------------------------------------------------------

    def check(self, response: httpx.Response) -> None:
        """Check one response against the contract (raise ``ContractViolation``) and record it."""
        response.read()
        request = response.request
        op = self.match(request.method, request.url.path)
        if op is None:
            return
        status = response.status_code
        where = f"{request.method} {request.url.path} ({op.operation_id}) -> {status}"
        declared = op.responses.get(str(status))
        if declared is None:
            raise ContractViolation(
                f"{where}: status not declared in the OpenAPI document "
                f"(declared: {sorted(op.responses)}); body: {response.text[:500]}"
            )
        content: dict[str, Any] = declared.get("content") or {}
        media = response.headers.get("content-type", "").split(";")[0].strip()
        if status == 204:
            if response.content:
                raise ContractViolation(f"{where}: a 204 has a body: {response.text[:200]}")
        elif "application/json" in content:
            if media != "application/json":
                raise ContractViolation(f"{where}: content-type {media!r}, not application/json")
            body = response.json()
            self._check_schema(op, str(status), content["application/json"]["schema"], body, where)
            self._check_model(op.models(status), body, where)
            if status >= 400:
                self._check_error(op, status, body, response, where)
        elif content and media not in content:
            raise ContractViolation(f"{where}: content-type {media!r}, declared {sorted(content)}")
        self.seen[op.operation_id][status] += 1

    def _check_schema(
        self, op: Operation, status: str, schema: dict[str, Any], body: Any, where: str
    ) -> None:
        key = (op.operation_id, status)
        validator = self._validators.get(key)
        if validator is None:
            # $refs point at "#/components/…": give the schema the document's components.
            rooted = {**schema, "components": self.document.get("components", {})}
            validator = self._validators[key] = Draft202012Validator(rooted)
        problems = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if problems:
            first = problems[0]
            at = "/".join(str(p) for p in first.absolute_path) or "(body)"
            raise ContractViolation(
                f"{where}: body does not match the OpenAPI schema at {at}: {first.message}"
            )

    def _check_model(self, model: Any, body: Any, where: str) -> None:
        if model is None:
            return
        adapter = self._adapters.get(id(model))
        if adapter is None:
            adapter = self._adapters[id(model)] = TypeAdapter(model)
        again = adapter.dump_python(adapter.validate_python(body), mode="json")
        if again != body:
            raise ContractViolation(
                f"{where}: body is not exactly the typed model {getattr(model, '__name__', model)}"
                f" (keys the model does not declare, or values it would change):\n"
                f"  sent:  {_short(body)}\n  model: {_short(again)}"
            )

    def _check_error(
        self, op: Operation, status: int, body: Any, response: httpx.Response, where: str
    ) -> None:
        if op.operation_id == "get_ready":  # readiness answers its own model on 503
            return
        detail = body.get("detail") if isinstance(body, dict) else None
        if set(body) != {"detail"} or not isinstance(detail, str) or len(detail) < 10:
            raise ContractViolation(f"{where}: an error must be one readable sentence: {body}")
        if status == 401 and response.headers.get("www-authenticate") != "Bearer":
            raise ContractViolation(f"{where}: a 401 must carry WWW-Authenticate: Bearer")

    # ---- coverage ------------------------------------------------------------------------------

    def gaps(self) -> list[str]:
        """Return what the tests did not exercise against the real stack.

        Every operation must have answered a success; every secured (state-changing) operation
        must also have refused a request without the right token (401) and refused bad input
        (400, 404, 409 or 422).
        """
        missing = []
        for op in sorted(self.operations, key=lambda o: (o.path, o.method)):
            statuses = self.seen.get(op.operation_id, Counter())
            name = f"{op.method} {op.path} ({op.operation_id})"
            if not any(200 <= s < 300 for s in statuses):
                missing.append(f"{name}: no successful call")
            if op.secured and 401 not in statuses:
                missing.append(f"{name}: no call without the token (401)")
            if op.secured and not BAD_INPUT & set(statuses):
                missing.append(f"{name}: no bad-input call (400/404/409/422)")
        return missing


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Yield every ``APIRoute`` of an app, inside included routers too.

    FastAPI ≥ 0.16x keeps an included router as one entry (its routes stay on the router); older
    versions copy the routes into the app. Both are walked.
    """
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def _short(value: Any, limit: int = 600) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
