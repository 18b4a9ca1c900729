"""Fetch GraphiQL's vendored assets from the npm registry and check them against their pins.

gateway/static/graphiql/assets.json records, for every vendored file, the npm package, its exact
version, the path inside the package, the registry's integrity (sha512) of the package tarball,
and the file's SRI hash (sha384, what the GraphiQL page puts in `integrity=`).

    python scripts/vendor_graphiql.py            # download, verify both hashes, write the files
    python scripts/vendor_graphiql.py --check    # download, verify, compare with the committed files
    python scripts/vendor_graphiql.py --update   # after editing versions: record the new hashes

Only the registry (https://registry.npmjs.org) is contacted; npm itself is not needed."""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "gateway" / "static" / "graphiql"
MANIFEST = STATIC / "assets.json"
REGISTRY = "https://registry.npmjs.org"


def sri(algorithm: str, data: bytes) -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def _get(url: str) -> bytes:
    if not url.startswith(REGISTRY + "/"):
        raise ValueError(f"refusing to fetch {url}: only {REGISTRY} is used")
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (https, fixed host)
        return bytes(response.read())


def tarball(package: str, version: str) -> tuple[bytes, str]:
    meta = json.loads(_get(f"{REGISTRY}/{package}/{version}"))
    data = _get(meta["dist"]["tarball"])
    integrity = meta["dist"]["integrity"]
    if sri("sha512", data) != integrity:
        raise ValueError(f"{package}@{version}: the tarball does not match the registry's integrity")
    return data, integrity


def member(data: bytes, path: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        extracted = tar.extractfile(f"package/{path}")
        if extracted is None:
            raise ValueError(f"package/{path} is not a file")
        return extracted.read()


def run(mode: str) -> int:
    manifest: dict[str, Any] = json.loads(MANIFEST.read_text())
    tarballs: dict[tuple[str, str], tuple[bytes, str]] = {}
    problems = []
    for entry in manifest["files"]:
        key = (entry["package"], entry["version"])
        if key not in tarballs:
            tarballs[key] = tarball(*key)
        data, integrity = tarballs[key]
        content = member(data, entry["path"])
        if mode == "update":
            entry["tarball_integrity"], entry["sha384"] = integrity, sri("sha384", content)
        elif entry["tarball_integrity"] != integrity or entry["sha384"] != sri("sha384", content):
            problems.append(f"{entry['file']}: {key[0]}@{key[1]} no longer matches its pinned hashes")
            continue
        target = STATIC / entry["file"]
        if mode == "check":
            if not target.is_file() or target.read_bytes() != content:
                problems.append(f"{entry['file']}: the committed file differs from {key[0]}@{key[1]}")
        else:
            target.write_bytes(content)
        print(f"{entry['file']:40} {key[0]}@{key[1]}/{entry['path']}  {entry['sha384']}")
    if mode == "update":
        MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="compare with the committed files")
    group.add_argument("--update", action="store_true", help="record the hashes of the pinned versions")
    args = parser.parse_args()
    sys.exit(run("check" if args.check else "update" if args.update else "write"))


if __name__ == "__main__":
    main()
