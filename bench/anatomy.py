"""Where one request's time goes: each HTTP scenario replayed in process, one request at a time,
through the real app (lifespan included) over httpx's ASGI transport.

Per request: wall time, Python CPU time of this process (the app's layers plus the small cost
of the in-process client), and database round trips (every asyncpg statement, including the
pool's reset query on release, BEGIN/COMMIT). Wall minus CPU is time spent waiting, which with
one request at a time is the database. This says what bounds a scenario that misses its target:
the gateway's Python per request (against the bare baseline's) or its round trips."""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx

from bench.loadgen import request_maker

REQUESTS = 30


@contextmanager
def counting_round_trips() -> Iterator[list[int]]:
    """Counts statements sent by any asyncpg connection while active (a one-item list)."""
    count = [0]
    conn_cls = asyncpg.connection.Connection
    execute, _execute = conn_cls.execute, conn_cls._execute

    async def counted_execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:  # with args, execute goes through _execute (counted there)
            count[0] += 1
        return await execute(self, query, *args, **kwargs)

    async def counted__execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return await _execute(self, *args, **kwargs)

    conn_cls.execute, conn_cls._execute = counted_execute, counted__execute  # type: ignore[method-assign]
    try:
        yield count
    finally:
        conn_cls.execute, conn_cls._execute = execute, _execute  # type: ignore[method-assign]


async def _replay(
    app: Any, state: dict[str, Any] | None, requests: dict[str, tuple[str, str, bytes, dict[str, str]]]
) -> dict[str, dict[str, float]]:
    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and state is not None:
            scope = {**scope, "state": {**state, **scope.get("state", {})}}
        await app(scope, receive, send)

    out: dict[str, dict[str, float]] = {}
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench.test") as client:
        for name, (method, path, body, headers) in requests.items():
            make: Callable[[], bytes] = request_maker(body, _fresh(body))
            await client.request(method, path, content=make() or None, headers=headers)  # warm-up
            statuses: set[int] = set()
            with counting_round_trips() as trips:
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(REQUESTS):
                    r = await client.request(method, path, content=make() or None, headers=headers)
                    statuses.add(r.status_code)
                    assert r.status_code in (200, 304), r.text[:500]
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(REQUESTS // 2):
                await client.request(method, path, content=make() or None, headers=headers)
            profiler.disable()
            cpu_ms = cpu / REQUESTS * 1000
            out[name] = {
                "wall_ms": round(wall / REQUESTS * 1000, 2),
                "cpu_ms": round(cpu_ms, 2),
                "round_trips": round(trips[0] / REQUESTS, 1),
                "status": min(statuses),
                # The profile's shares applied to the unprofiled CPU time (profiling inflates
                # every call alike, roughly).
                **{f"layer:{k}": round(v * cpu_ms, 2) for k, v in _layers(profiler).items()},
            }
    return out


LAYERS = (
    ("/graphql/", "graphql-core"),
    ("/strawberry/", "strawberry"),
    ("/asyncpg/", "asyncpg"),
    ("/starlette/", "starlette"),
    ("/httpx/", "in-process client (httpx)"),
    ("/httpcore/", "in-process client (httpx)"),
    ("/anyio/", "in-process client (httpx)"),
    ("/pydantic", "pydantic"),
    ("/jwt/", "JWT"),
    ("/cryptography/", "JWT"),
    ("/prometheus_client/", "metrics"),
    ("/logging/", "logging"),
    ("/asyncio/", "event loop"),
    ("/gateway/", "gateway/"),
    ("/resolvers/", "resolvers/"),
    ("/privacy/", "privacy/"),
    ("/sql/", "sql/"),
)


def _layers(profiler: cProfile.Profile) -> dict[str, float]:
    """Share of self time per layer (a function's own time goes to the package it lives in;
    C builtins to the layer of their caller is not known to cProfile: 'builtins')."""
    totals: dict[str, float] = {}
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, _, _), (_, _, tottime, _, _) in stats.items():
        layer = next((name for part, name in LAYERS if part in filename), None)
        if layer is None:
            layer = "builtins (C calls)" if filename == "~" else "other Python"
        totals[layer] = totals.get(layer, 0.0) + tottime
    whole = sum(totals.values()) or 1.0
    return {k: v / whole for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def _fresh(body: bytes) -> str:
    from bench.documents import FRESH_ID

    return FRESH_ID if FRESH_ID.encode() in body else ""


async def _gateway(
    env: dict[str, str], requests: dict[str, tuple[str, str, bytes, dict[str, str]]]
) -> dict[str, dict[str, float]]:
    import os

    os.environ.update(env)
    from gateway.app import create_app
    from gateway.settings import Settings

    app = create_app(Settings())
    async with app.router.lifespan_context(app) as state:
        return await _replay(app, dict(state), requests)


def gateway(
    env: dict[str, str], requests: dict[str, tuple[str, str, bytes, dict[str, str]]]
) -> dict[str, dict[str, float]]:
    """`requests`: scenario name -> (method, path, body, headers), sent as the load generator would."""
    return asyncio.run(_gateway(env, requests))


def baseline(
    env: dict[str, str], requests: dict[str, tuple[str, str, bytes, dict[str, str]]]
) -> dict[str, dict[str, float]]:
    """The same for the bare Strawberry app (reads BENCH_STATIC_FILE from `env` at import)."""
    import os

    os.environ.update(env)
    from bench.baselines import strawberry_app

    return asyncio.run(_replay(strawberry_app(), None, requests))


def main() -> None:
    """`python -m bench.anatomy gateway|strawberry` with {"env", "requests"} as JSON on stdin: a
    fresh process, since the gateway reads its settings from the environment."""
    import json
    import sys

    payload = json.loads(sys.stdin.read())
    requests = {k: (m, p, b.encode(), h) for k, (m, p, b, h) in payload["requests"].items()}
    run = gateway if sys.argv[1] == "gateway" else baseline
    print(json.dumps(run(payload["env"], requests)))


if __name__ == "__main__":
    main()
