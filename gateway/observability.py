"""Structured logs and Prometheus metrics.

One JSON log line per request (request id, operation name, principal role, status, duration):
never the token, the subject (a user id is personal data), variables or the query text.
Metrics: request counts and latency per operation name (a bounded label set, see
OperationLabels), pool size / idle /
in use, and the privacy budget counters from privacy.telemetry.

Multi-worker: prometheus_client keeps metrics per process. Without PROMETHEUS_MULTIPROC_DIR a
scrape sees only the worker that answered it; with PROMETHEUS_MULTIPROC_DIR set (an empty
directory, wiped at start) /metrics aggregates every worker's files via MultiProcessCollector.
The pool gauges are live values of the answering worker's pool either way."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

import orjson
from graphql import OperationDefinitionNode, parse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from privacy.principal import ANONYMOUS, Role
from resolvers.common.limits import LimitsConfig

access_log = logging.getLogger("gateway.access")

REQUESTS = Counter(
    "gateway_requests", "HTTP requests by route, operation and status", ["path", "operation", "status"]
)
LATENCY = Histogram(
    "gateway_request_duration_seconds",
    "Request latency by route and operation",
    ["path", "operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Operation names are chosen by clients, so a label set fed by them could be filled by anyone
# (and real operations then counted as "other"). Labels are: the operation names of the
# registered documents (gateway/documents, fixed at start), plus the first
# `max_operation_labels` well-formed names sent by staff roles (app, analyst, marketer, admin:
# tokens the company issues to its own systems and people). Names from anonymous callers and
# end users that are not registered are counted as "other".
_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
STAFF_ROLES = frozenset({Role.APP, Role.ANALYST, Role.MARKETER, Role.ADMIN})
KNOWN_PATHS = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})


def _route_label(path: str) -> str:
    # Document ids are a small registered set, but label the route, not the id; an export link's
    # secret is in its path and never reaches a label or a log line.
    if path.startswith("/graphql/persisted/"):
        return "/graphql/persisted"
    return "/v1/export" if path.startswith("/v1/export/") else "other"


def registered_operation_names(texts: Iterable[str]) -> frozenset[str]:
    names: set[str] = set()
    for text in texts:
        for definition in parse(text).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name is not None:
                names.add(definition.name.value)
    return frozenset(names)


def operation_name(name: str | None) -> str:
    """The operation name as logged: well-formed names as sent ("-" none, "other" malformed).
    A log line is one record, so the name costs no label memory there."""
    if not name:
        return "-"
    return name if _OPERATION_NAME.fullmatch(name) else "other"


class OperationLabels:
    """The bounded set of operation names that become metric labels (see above)."""

    def __init__(self, documents: Iterable[str], limits: LimitsConfig) -> None:
        self.registered = registered_operation_names(documents)
        self.max_dynamic = limits.max_operation_labels
        self.dynamic: set[str] = set()

    def label(self, name: str | None, role: Role) -> str:
        if not name:
            return "-"
        if name in self.registered or name in self.dynamic:
            return name
        if role in STAFF_ROLES and len(self.dynamic) < self.max_dynamic and _OPERATION_NAME.fullmatch(name):
            self.dynamic.add(name)
            return name
        return "other"


# Metric children per label set: `labels()` looks a child up by its label values on every call;
# the set is bounded (routes, bounded operation labels, statuses), so each is looked up once.
_CHILDREN: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def observe(path: str, label: str, status: int, elapsed: float) -> None:
    """Count one request and its latency (the same series as REQUESTS.labels(...).inc() and
    LATENCY.labels(...).observe())."""
    key = (path, label, str(status))
    children = _CHILDREN.get(key)
    if children is None:
        children = _CHILDREN[key] = (REQUESTS.labels(*key), LATENCY.labels(path, label))
    children[0].inc()
    children[1].observe(elapsed)


def log_access(
    request_id: str | None,
    operation: str,
    role: str,
    status: int,
    elapsed: float,
    method: str | None,
    path: str,
) -> None:
    """The access line: `access_log.info("request", extra=...)` without the caller lookup
    (logging walks the stack for a file and line number no field of the line uses); written
    directly when the process logs the way configure_logging sets it up (`_direct_handler`)."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    fields = {
        "request_id": request_id,
        "operation": operation,
        "role": role,
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
        "method": method,
        "path": path,
    }
    handler = _direct_handler()
    if handler is not None:
        line = JsonFormatter.line(time.time(), "info", access_log.name, "request", fields)
        try:
            with handler.lock:  # type: ignore[union-attr]
                handler.stream.write(line + handler.terminator)
                handler.flush()
            return
        except Exception:  # noqa: S110 - logging's own path below reports it as it always does
            pass
    record = access_log.makeRecord(
        access_log.name,
        logging.INFO,
        __file__,
        0,
        "request",
        (),
        None,
        extra=fields,
    )
    access_log.handle(record)


class JsonFormatter(logging.Formatter):
    # `job`, `result`, `delivery`: the worker (jobs/); the delivery line is the log sink's message.
    FIELDS = (
        "request_id",
        "operation",
        "role",
        "status",
        "duration_ms",
        "method",
        "path",
        "job",
        "result",
        "delivery",
    )

    def format(self, record: logging.LogRecord) -> str:
        fields = {name: getattr(record, name, None) for name in self.FIELDS}
        exc = self.formatException(record.exc_info) if record.exc_info else None
        return self.line(
            record.created, record.levelname.lower(), record.name, record.getMessage(), fields, exc
        )

    @classmethod
    def line(
        cls,
        created: float,
        level: str,
        logger: str,
        msg: str,
        fields: dict[str, Any],
        exc: str | None = None,
    ) -> str:
        """One JSON line: the record's time, level, logger and message, then the known fields
        that are set, in FIELDS order."""
        entry: dict[str, Any] = {"ts": round(created, 3), "level": level, "logger": logger, "msg": msg}
        for name in cls.FIELDS:
            value = fields.get(name)
            if value is not None:
                entry[name] = value
        if exc:
            entry["exc"] = exc
        return orjson.dumps(entry).decode()


def _direct_handler() -> logging.StreamHandler[Any] | None:
    """The handler configure_logging installs, when an access line would reach it and nothing
    else: no handler or filter on the way (gateway.access, gateway), propagation up to the root,
    the root's only handler that one, without filters. The line it would write is then written
    without a LogRecord (the same text, tests/test_observability.py). Any other set-up, such as
    a test capturing logs, takes logging's own path."""
    logger: logging.Logger | None = access_log
    while logger is not None and logger is not logging.root:
        if logger.handlers or logger.filters or not logger.propagate:
            return None
        logger = logger.parent
    handlers = logging.root.handlers
    if len(handlers) != 1 or logging.root.filters:
        return None
    handler = handlers[0]
    if (
        type(handler) is not logging.StreamHandler
        or type(handler.formatter) is not JsonFormatter
        or handler.filters
        or handler.level > logging.INFO
    ):
        return None
    return handler


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the whole process (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.handlers = [handler]
    root.setLevel(level)


class AccessLogMiddleware:
    """Outermost: sees every response, including 401 / 413 / 429 written by inner middleware."""

    def __init__(self, app: ASGIApp, operation_labels: OperationLabels) -> None:
        self.app = app
        self.operation_labels = operation_labels

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - start
            state = scope.get("state", {})
            path = scope["path"] if scope["path"] in KNOWN_PATHS else _route_label(scope["path"])
            role = state.get("principal", ANONYMOUS).role
            label = self.operation_labels.label(state.get("operation_name"), role)
            observe(path, label, status, elapsed)
            log_access(
                state.get("request_id"),
                operation_name(state.get("operation_name")),
                role.value,
                status,
                elapsed,
                scope.get("method"),
                path,
            )


class PoolCollector(Collector):
    """Reads the live pool at scrape time (no per-request cost)."""

    def __init__(self) -> None:
        self.pool: Any = None

    def collect(self) -> Any:
        pool = self.pool
        size = pool.get_size() if pool is not None else 0
        idle = pool.get_idle_size() if pool is not None else 0
        for name, doc, value in (
            ("gateway_db_pool_size", "Open connections in this worker's pool", size),
            ("gateway_db_pool_idle", "Idle connections in this worker's pool", idle),
            ("gateway_db_pool_in_use", "Connections checked out of this worker's pool", size - idle),
            ("gateway_db_pool_max", "Maximum pool size", pool.get_max_size() if pool is not None else 0),
        ):
            yield GaugeMetricFamily(name, doc, value=value)


def metrics_endpoint(limits: LimitsConfig, pool_collector: PoolCollector) -> Any:
    async def metrics(request: Request) -> Response:
        principal = request.scope.get("state", {}).get("principal", ANONYMOUS)
        if not limits.metrics_public and principal.role is not Role.ADMIN:
            return JSONResponse(
                {"errors": [{"message": "metrics need an admin token", "extensions": {"code": "FORBIDDEN"}}]},
                status_code=403,
            )
        pool_collector.pool = request.state.pool
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(pool_collector)
            body = generate_latest(registry)
        else:
            body = generate_latest(REGISTRY) + generate_latest(_pool_registry(pool_collector))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics


def _pool_registry(collector: PoolCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
