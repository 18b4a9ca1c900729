"""Database probes that explain what bounds a scenario: the latency of one committed write
(every personalized read commits an audit row) with and without waiting for the WAL flush,
and of one indexed read."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg

from sql import load_queries

Q = load_queries()
ROUNDS = 100
DURABLE_AUDIT_ROW = (
    "INSERT INTO audit_log (request_id, principal_role, purpose, table_name) VALUES ($1, 'user', 'p', 't')"
)


async def _probe(dsn: str) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    out: dict[str, float] = {}
    try:
        # A durable commit of one audit row (what every personalized read paid before
        # migration 0050) against the end-of-operation log write the gateway does now.
        start = time.perf_counter()
        for _ in range(ROUNDS):
            await conn.execute(DURABLE_AUDIT_ROW, "bench-probe")
        out["audit row, durable commit"] = (time.perf_counter() - start) / ROUNDS
        start = time.perf_counter()
        for _ in range(ROUNDS):
            await conn.execute(
                *Q.log_operation.bind(
                    request_id="bench-probe", role="user", principal_id="1", reader=1, subjects=[1],
                    purposes=["essential.service"], tables=["users"], actions=["read"], decision_user=None,
                    ids=[], surfaces=[], kinds=[], subject_ids=[], ranks=[], modes=[], records=[],
                    snapshots=[], generated=[],
                )
            )  # fmt: skip
        out["log_operation (audit + decisions, no WAL-flush wait)"] = (time.perf_counter() - start) / ROUNDS
        start = time.perf_counter()
        for _ in range(ROUNDS):
            await conn.fetchrow(Q.user_account, 1, False, [], [])
        out["account read (consent snapshot, channels, controls)"] = (time.perf_counter() - start) / ROUNDS
    finally:
        await conn.close()
    return {k: round(v * 1000, 2) for k, v in out.items()}


def probe(dsn: str) -> dict[str, float]:
    return asyncio.run(_probe(dsn))


def cpu() -> dict[str, float]:
    """Per-request CPU of the gateway's own layers, in µs (in-process, best of 3 x 2000 calls)."""
    import logging
    import os
    import timeit

    from graphql import parse

    from gateway.auth import Verifier, issue_token
    from gateway.cost import operation_cost
    from gateway.observability import JsonFormatter
    from gateway.ratelimit import TokenBuckets
    from gateway.schema import build_schema
    from gateway.settings import Environment, Settings
    from privacy.principal import Role
    from resolvers.experiments.rules import assign, pseudonym

    settings = Settings(environment=Environment.TEST, jwt_secret="s" * 48)
    bearer = "Bearer " + issue_token(settings, Role.USER, "1")
    verifier = Verifier.from_settings(settings)
    buckets = TokenBuckets(1e9, 1e9)
    schema = build_schema(settings)._schema
    document = parse("query Viewer { viewer { id createdAt country } whoami { role } }")
    limits = settings.domain.limits
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("bench.probe.access")
    access.propagate = False
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    extra = {"request_id": "0" * 32, "operation": "Viewer", "role": "user", "status": 200, "duration_ms": 1.0}
    experiment = _bench_experiment()
    who = pseudonym(1, "bench")
    probes = {
        "experiment assignment, per running experiment (namespace + variant hash)": lambda: assign(
            experiment, who
        ),
        "experiment pseudonym, per operation (sha256 of salt and user id)": lambda: pseudonym(1, "bench"),
        "JWT verification (HS256, PyJWT)": lambda: verifier.principal(bearer),
        "JSON access log line": lambda: access.info("request", extra=extra),
        "rate-limit bucket": lambda: buckets.take("user:1"),
        "query cost estimate (small query)": lambda: operation_cost(schema, document, None, {}, limits),
    }
    n = 2000
    handler_stream = handler.stream
    try:
        return {
            name: round(min(timeit.repeat(fn, number=n, repeat=3)) / n * 1e6, 1)
            for name, fn in probes.items()
        }
    finally:
        handler_stream.close()


def _bench_experiment() -> Any:
    """A three-arm offer-count experiment, as the gateway caches a running one."""
    from resolvers.experiments.rules import SurfaceVocabulary, validate

    raw = {
        "key": "bench_offers", "name": "Bench", "hypothesis": "-", "surface": "OFFER_COUNT",
        "variants": [{"key": "control", "weight": 10}, {"key": "a", "weight": 30, "value": {"count": 1}},
                     {"key": "b", "weight": 60, "value": {"count": 4}}],
        "namespace": "offers", "rangeStart": 0.0, "rangeEnd": 0.8, "primaryMetric": "CONVERSION",
    }  # fmt: skip
    definition, errors = validate(raw, SurfaceVocabulary(frozenset()), frozenset())
    assert definition is not None, errors
    return definition
