"""The requests the bench sends: GraphQL documents and the persisted layout GET.

PERSONALIZED is DESIGN §8's viewer query: tags + layout + 10 feed items, each with a complete
why (every field of `Why`). The bare Strawberry baseline (bench/baselines.py) mirrors exactly
this selection."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from gateway.persisted import DOCUMENTS_DIR, document_id

WHOAMI = "query Whoami { whoami { role subject } }"
VIEWER = "query Viewer { viewer { id createdAt personalizationLevel country platform preferredChannel } }"

# The home screen's trusted document (gateway/documents/home.graphql): the gateway runs it from
# a compiled plan (gateway/plan.py), like every trusted document a client app registers.
PERSONALIZED = (DOCUMENTS_DIR / "home.graphql").read_text()

LAYOUT_ID = document_id((DOCUMENTS_DIR / "layout.graphql").read_text())
LAYOUT_VARIABLES = {"platform": "IOS", "appVersion": "4.2.0"}
LAYOUT_PATH = f"/graphql/persisted/{LAYOUT_ID}?variables=" + quote(
    json.dumps(LAYOUT_VARIABLES, separators=(",", ":"))
)

# The app's event batch: a trusted document (gateway/documents/track.graphql), as an app would
# register it; its variables are coerced by compiled functions (gateway/inputs.py).
TRACK_EVENTS = (DOCUMENTS_DIR / "track.graphql").read_text()

# bench.loadgen replaces every occurrence with a new UUID per request (same length).
FRESH_ID = "ffffffff-ffff-4fff-bfff-ffffffffffff"
BATCH = 100
# What an app sends: mostly views and clicks of catalog items, some sessions and feature use.
KINDS = ("VIEW",) * 6 + ("CLICK",) * 2 + ("SESSION_START", "FEATURE_USED")
FEATURES = ("wishlist", "search", "orders", "scan")
ITEMS = 20  # item ids 1..20 exist in every seeded catalog


# How many different batches the trackEvents scenario rotates over (bench.loadgen --bodies-file):
# each request carries its own 100 users, drawn from the whole seeded population.
TRACK_BATCHES = 64


def track_events(users: list[int], rng: random.Random | None = None) -> list[dict[str, Any]]:
    """One batch: BATCH events for distinct users drawn from `users`, ids left to FRESH_ID.
    Without `rng`, always the same batch (the same 100 users)."""
    rng = rng or random.Random(7)
    owners = rng.sample(users, min(BATCH, len(users)))
    occurred = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    events: list[dict[str, Any]] = []
    for i in range(BATCH):
        kind = KINDS[i % len(KINDS)]
        event: dict[str, Any] = {
            "id": FRESH_ID,
            "type": kind,
            "occurredAt": occurred,
            "userId": str(owners[i % len(owners)]),
            "platform": "IOS",
        }
        if kind in ("VIEW", "CLICK"):
            event["itemId"] = str(rng.randint(1, ITEMS))
        if kind == "FEATURE_USED":
            event["feature"] = rng.choice(FEATURES)
        events.append(event)
    return events


def track_event_batches(users: list[int], count: int = TRACK_BATCHES) -> list[list[dict[str, Any]]]:
    """`count` batches, each for its own 100 users drawn from `users` (seeded: the same batches
    in every run, and for the COPY baseline)."""
    rng = random.Random(7)
    return [track_events(users, rng) for _ in range(count)]


def track_events_variables(users: list[int]) -> dict[str, Any]:
    """The same batch, so the same 100 users, on every request (the contention case)."""
    return {"events": track_events(users)}


def track_events_rotating(users: list[int]) -> list[dict[str, Any]]:
    """One variables object per batch of track_event_batches: requests rotate over them."""
    return [{"events": batch} for batch in track_event_batches(users)]
