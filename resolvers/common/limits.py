"""Limits on public traffic: GraphQL document shape, query cost, request size and request rate.

Nested in DomainConfig as `limits`, so each value can be set from the environment
(`GATEWAY_DOMAIN__LIMITS__MAX_DEPTH=8`). The defaults follow OWASP / graphql-armor / Apollo
defaults, tightened where this API is small."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LimitsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Document shape (checked during validation, before anything runs).
    max_depth: int = Field(default=10, ge=1, le=100)
    max_tokens: int = Field(default=2000, ge=50, le=100_000)
    max_aliases: int = Field(default=15, ge=0, le=1000)
    # Checked on the parsed document before validation runs (validation's field-merging rule
    # is quadratic in fields sharing a response name): selections counted with every fragment
    # expanded where it is used, fields repeating a response key of their selection set
    # (fragments merged in, counted over the whole document), and the document's length in
    # characters. The same bounds hold for documents given to `estimateCost`.
    # resolvers/common/document_limits.py.
    max_selections: int = Field(default=500, ge=10, le=100_000)
    max_field_duplicates: int = Field(default=30, ge=0, le=10_000)
    max_document_chars: int = Field(default=64 * 1024, ge=256, le=16 * 1024 * 1024)

    # Query cost: an object costs 1, a scalar 0; a list multiplies what is inside it by its
    # requested size (its `limit` / `first` argument, else default_list_size); each root
    # mutation field costs mutation_cost on top. See docs/limits.md.
    max_cost: int = Field(default=1000, ge=1)
    default_list_size: int = Field(default=10, ge=1)
    mutation_cost: int = Field(default=10, ge=0)

    # Bytes read from one request body before it is refused with 413.
    max_body_bytes: int = Field(default=512 * 1024, ge=1024, le=64 * 1024 * 1024)
    # Seconds allowed for reading a whole request body; a body still incomplete then is
    # answered 408 (a client trickling bytes cannot hold a connection and a worker slot).
    body_timeout_s: float = Field(default=10.0, gt=0, le=600)
    # Nesting allowed in JSON bodies and GET `variables` (arrays and objects).
    max_json_depth: int = Field(default=32, ge=2, le=512)

    # Token bucket per principal (token subject; client IP for anonymous callers and for
    # requests whose token was refused). Per process when no Redis URL is configured (each
    # worker enforces rate / workers, so the whole server allows about `rate_per_s`); shared by
    # every process and host through Redis when one is (gateway/ratelimit.py).
    rate_per_s: float = Field(default=100.0, gt=0)
    rate_burst: int = Field(default=200, ge=1)
    anonymous_rate_per_s: float = Field(default=20.0, gt=0)
    anonymous_burst: int = Field(default=40, ge=1)

    # Seconds a client is told to wait when the database is unreachable.
    unavailable_retry_after_s: int = Field(default=5, ge=1, le=600)

    # /metrics answers only admin tokens unless this is set (e.g. a scraper on a private network).
    metrics_public: bool = False
    # Operation names that become metric labels besides the registered documents' names: the
    # first N names sent by staff roles (app, analyst, marketer, admin); the rest are "other".
    max_operation_labels: int = Field(default=100, ge=0, le=10_000)
