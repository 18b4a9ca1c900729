"""The load generator: a separate process (`python -m bench.loadgen ...`) so its CPU is not the
server's. Raw asyncio sockets with HTTP/1.1 keep-alive (httpx costs more CPU per request than
the servers under test), a fixed number of connections, each sending back-to-back for a fixed
duration. Prints one JSON line: requests, errors, statuses, req/s, p50/p99 in ms.

`--fresh-id X`: every occurrence of X (a UUID) in the request is replaced by a new UUID on each
request, so a batch of events is new each time (same length, so Content-Length holds)."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path


def build_request(method: str, path: str, host: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value)
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


def request_maker(request: bytes, fresh_id: str) -> Callable[[], bytes]:
    if not fresh_id:
        return lambda: request
    parts = request.split(fresh_id.encode())

    def fresh() -> bytes:
        out = [parts[0]]
        for part in parts[1:]:
            out += [str(uuid.uuid4()).encode(), part]
        return b"".join(out)

    return fresh


async def worker(
    host: str,
    port: int,
    request: Callable[[], bytes],
    until: float,
    latencies: list[float],
    statuses: Counter[int],
) -> int:
    errors = 0
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            data = request()
            start = time.perf_counter()
            try:
                writer.write(data)
                status = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            latencies.append(time.perf_counter() - start)
            statuses[status] += 1
    finally:
        writer.close()
    return errors


async def run(args: argparse.Namespace) -> dict[str, object]:
    headers = json.loads(args.headers) if args.headers else {}
    bodies: list[str] = args.bodies
    makers = [
        request_maker(
            build_request(args.method, args.path, f"{args.host}:{args.port}", body.encode(), headers),
            args.fresh_id,
        )
        for body in bodies
    ]
    turn = itertools.count()  # every connection takes the next body: requests rotate over them

    def request() -> bytes:
        return makers[next(turn) % len(makers)]()

    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    # warm-up: one request per connection is not counted
    until_warm = time.perf_counter() + args.warmup
    await asyncio.gather(
        *(worker(args.host, args.port, request, until_warm, [], Counter()) for _ in range(args.connections))
    )
    start = time.perf_counter()
    until = start + args.duration
    errors = await asyncio.gather(
        *(worker(args.host, args.port, request, until, latencies, statuses) for _ in range(args.connections))
    )
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return (
            round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else 0.0
        )

    return {
        "requests": len(latencies),
        "errors": sum(errors),
        "statuses": {str(k): v for k, v in statuses.items()},
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--method", default="POST")
    p.add_argument("--path", default="/graphql")
    p.add_argument("--body", default="")
    p.add_argument("--bodies-file", default="", help="a JSON list of bodies; requests rotate over them")
    p.add_argument("--headers", default="")
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--fresh-id", default="", help="a UUID in the body to replace by a new one per request")
    args = p.parse_args()
    args.bodies = json.loads(Path(args.bodies_file).read_text()) if args.bodies_file else [args.body]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(run(args))))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
