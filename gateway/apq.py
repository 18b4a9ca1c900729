"""Apollo's automatic persisted queries (APQ) over the trusted-document registry.

A client sends `extensions.persistedQuery = {version: 1, sha256Hash}` by GET or POST, without
the query text:
- a trusted document (gateway/persisted.py) with that hash runs;
- a document registered at run time runs, where registration is enabled;
- otherwise the answer is Apollo's `PersistedQueryNotFound` (code PERSISTED_QUERY_NOT_FOUND,
  HTTP 200, no `data`), and the client retries with the hash and the text together.
A request carrying both is checked (the hash must be the sha256 of the text) and then:
registered and run where registration is enabled (development); run without registering on a
server that accepts any document; refused with persisted_only, where only trusted documents run.

Registration keeps documents in a bounded per-process table: a worker that has not seen a
document answers PersistedQueryNotFound and the client's retry registers it there too, which is
what the protocol expects; nothing is shared or persisted, and production never registers."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from gateway.persisted import Registry, document_id

NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"
REFUSED_MESSAGE = (
    "This server runs registered (persisted) documents only and this document is not registered; "
    "send a registered one, or its id in extensions.persistedQuery.sha256Hash."
)
MAX_RUNTIME_DOCUMENTS = 1000
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class RuntimeDocuments:
    """Documents registered by clients at run time: the most recently used MAX_RUNTIME_DOCUMENTS."""

    def __init__(self, max_documents: int = MAX_RUNTIME_DOCUMENTS) -> None:
        self.max_documents = max_documents
        self._texts: OrderedDict[str, str] = OrderedDict()

    def get(self, sha256: str) -> str | None:
        text = self._texts.get(sha256)
        if text is not None:
            self._texts.move_to_end(sha256)
        return text

    def add(self, sha256: str, text: str) -> None:
        self._texts[sha256] = text
        self._texts.move_to_end(sha256)
        while len(self._texts) > self.max_documents:
            self._texts.popitem(last=False)

    def __len__(self) -> int:
        return len(self._texts)


def requested_hash(extensions: Any) -> str | None:
    """The sha256 in `extensions.persistedQuery`, None when there is none; a malformed one is 400."""
    if not isinstance(extensions, dict) or extensions.get("persistedQuery") is None:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict):
        raise HTTPException(400, "extensions.persistedQuery must be an object")
    if persisted.get("version") != 1:
        raise HTTPException(400, "Unsupported persisted query version: send version 1")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256.lower()):
        raise HTTPException(400, "extensions.persistedQuery.sha256Hash must be a hex SHA-256")
    return sha256.lower()


@dataclass(frozen=True, slots=True)
class Lookup:
    query: str | None  # the text to run (None: the request has none)
    register: str | None = None  # the hash to register once the document validates
    not_found: bool = False  # a hash without text that no registered document has


def resolve(
    item: GraphQLRequestData, trusted: Registry, runtime: RuntimeDocuments | None, persisted_only: bool
) -> Lookup:
    """What to run for this request. `runtime` is None where registration is off."""
    sha256 = requested_hash(item.extensions)
    text = item.query
    if sha256 is None:
        if persisted_only and (text is None or not trusted.knows_text(text)):
            raise HTTPException(400, REFUSED_MESSAGE)
        return Lookup(text)
    if text is None:
        doc = trusted.get(sha256)
        if doc is not None:
            return Lookup(doc.text)
        text = runtime.get(sha256) if runtime is not None else None
        return Lookup(text, not_found=text is None)
    if document_id(text) != sha256:
        raise HTTPException(400, "provided sha does not match query")
    if trusted.get(sha256) is not None:
        return Lookup(text)
    if runtime is not None:
        return Lookup(text, register=sha256)
    if persisted_only:
        raise HTTPException(400, REFUSED_MESSAGE)
    return Lookup(text)


def not_found() -> ExecutionResult:
    error = GraphQLError(NOT_FOUND_MESSAGE, extensions={"code": NOT_FOUND_CODE})
    return ExecutionResult(data=None, errors=[error])
