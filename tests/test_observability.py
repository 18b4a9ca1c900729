"""Masked errors carry a request id that is also in the logs; one JSON access line per request
without personal data; /metrics is admin-only and reports requests, latency and the pool."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest

from gateway import observability
from gateway.auth import issue_token
from gateway.observability import JsonFormatter
from gateway.settings import Settings
from privacy.principal import Role
from privacy.telemetry import record_budget_spent
from tests.conftest import gql


async def test_masked_error_has_request_id_that_is_logged(
    client: httpx.AsyncClient, token, db_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    conn = await asyncpg.connect(db_dsn)
    await conn.execute("INSERT INTO users (user_id) VALUES (5)")
    await conn.execute("ALTER TABLE users RENAME COLUMN country TO country_gone")  # break a query
    await conn.close()
    with caplog.at_level(logging.INFO):
        body = await gql(client, "query Me { viewer { id } }", token=token(Role.USER, 5))
    error = body["errors"][0]
    assert error["message"] == "Unexpected error."
    assert "country" not in orjson.dumps(body).decode()  # nothing of the cause leaks
    request_id = error["extensions"]["request_id"]
    assert len(request_id) >= 8
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert any(r.name == "gateway.errors" and r.exc_info for r in logged), "the cause is logged"
    access = [r for r in logged if r.name == "gateway.access"]
    assert len(access) == 1


async def test_access_line_is_json_without_personal_data(
    client: httpx.AsyncClient, token, caplog: pytest.LogCaptureFixture
) -> None:
    secret_token = token(Role.USER, 4242)
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        response = await client.post(
            "/graphql",
            json={"query": "query WhoAmI { whoami { role subject } }"},
            headers={"Authorization": f"Bearer {secret_token}", "x-request-id": "req-12345678"},
        )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-12345678"
    (record,) = [r for r in caplog.records if r.name == "gateway.access"]
    line = JsonFormatter().format(record)
    entry = orjson.loads(line)
    assert entry["request_id"] == "req-12345678"
    assert entry["operation"] == "WhoAmI"
    assert entry["role"] == "user"
    assert entry["status"] == 200
    assert entry["duration_ms"] > 0
    assert "4242" not in line and secret_token not in line and "whoami {" not in line


async def test_anonymous_callers_cannot_fill_the_operation_labels(db_dsn: str, tmp_path: Path, token) -> None:
    """210 operation names from anonymous callers (and users) take no label: the label set is
    the registered documents' names plus the first names staff roles send."""
    from tests.test_layout import URL
    from tests.test_limits import _client, _settings

    settings = _settings(db_dsn, tmp_path, anonymous_rate_per_s=10_000, anonymous_burst=10_000)
    admin = {"Authorization": f"Bearer {token(Role.ADMIN, 'ops')}"}
    async for c in _client(settings):
        for i in range(210):
            await gql(c, f"query Flood{i} {{ whoami {{ role }} }}")
        await gql(c, "query MyOwn { whoami { role } }", token=token(Role.USER, 7))
        await gql(c, "query Nightly { whoami { role } }", token=token(Role.APP, "etl"))
        await c.get(URL, params={"variables": '{"platform": "IOS", "appVersion": "1.0"}'})
        text = (await c.get("/metrics", headers=admin)).text
    assert 'operation="Flood' not in text and 'operation="MyOwn"' not in text
    assert 'gateway_requests_total{operation="other",path="/graphql",status="200"}' in text
    assert 'operation="Nightly",path="/graphql"' in text  # a staff role's operation
    assert 'operation="Layout",path="/graphql/persisted"' in text  # a registered document


async def test_metrics_admin_only(client: httpx.AsyncClient, token) -> None:
    assert (await client.get("/metrics")).status_code == 403
    forbidden = await client.get("/metrics", headers={"Authorization": f"Bearer {token(Role.ANALYST, 'a')}"})
    assert forbidden.status_code == 403
    await gql(client, "query Probe { whoami { role } }", token=token(Role.APP, "probe"))
    record_budget_spent(0.25, dataset="test")
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {token(Role.ADMIN, 'ops')}"})
    assert response.status_code == 200
    text = response.text
    assert 'gateway_requests_total{operation="Probe",path="/graphql",status="200"}' in text
    assert 'gateway_request_duration_seconds_count{operation="Probe",path="/graphql"}' in text
    assert "gateway_db_pool_size" in text and "gateway_db_pool_in_use" in text
    assert 'gateway_privacy_budget_spent_epsilon_total{dataset="test"}' in text


def test_metrics_aggregate_workers_with_prometheus_multiproc_dir(
    db_dsn: str, tmp_path: Path, settings: Settings
) -> None:
    from tests import outage
    from tests.test_kill import gateway_env

    env = {**gateway_env(db_dsn, tmp_path), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    (tmp_path / "prom").mkdir()
    admin = issue_token(settings, Role.ADMIN, "ops")
    app = {"Authorization": f"Bearer {issue_token(settings, Role.APP, 'etl')}"}
    with outage.gateway_process(env, workers=2) as (base, _):
        for _ in range(30):  # a new connection each: the kernel spreads them over both workers
            httpx.post(base + "/graphql", json={"query": "query Multi { whoami { role } }"}, headers=app)
        text = httpx.get(base + "/metrics", headers={"Authorization": f"Bearer {admin}"}).text
    assert 'gateway_requests_total{operation="Multi",path="/graphql",status="200"} 30.0' in text
    assert len(list((tmp_path / "prom").glob("counter_*.db"))) >= 2, "each worker writes its own file"


def test_access_line_written_directly_is_logging_own_line() -> None:
    # Under configure_logging's set-up the access line skips the LogRecord; the text is the one
    # logging writes through the formatter, and any other set-up takes logging's own path.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    saved = (root.handlers, root.level)
    root.handlers = [handler]
    root.setLevel(logging.INFO)  # setLevel: it also clears the loggers' isEnabledFor caches
    try:
        assert observability._direct_handler() is handler
        observability.log_access("r-1", "Home", "user", 304, 0.001234, "GET", "/graphql/persisted")
        handler.addFilter(lambda _record: True)  # a filter: logging's own path
        assert observability._direct_handler() is None
        observability.log_access("r-1", "Home", "user", 304, 0.001234, "GET", "/graphql/persisted")
    finally:
        root.handlers = saved[0]
        root.setLevel(saved[1])
    direct, logged = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert abs(direct.pop("ts") - logged.pop("ts")) < 5
    assert list(direct.items()) == list(logged.items())
    assert direct == {
        "level": "info",
        "logger": "gateway.access",
        "msg": "request",
        "request_id": "r-1",
        "operation": "Home",
        "role": "user",
        "status": 304,
        "duration_ms": 1.23,
        "method": "GET",
        "path": "/graphql/persisted",
    }
