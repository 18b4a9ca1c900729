"""The decision-log form of a record: complete (every field, so a new one cannot be forgotten)
and lossless (the why a user lists later is the record that decided)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import orjson

from resolvers.explain.record import (
    Control,
    ControlKind,
    DecisionRecord,
    Mode,
    Reason,
    ReasonCode,
    RuleRef,
    SignalSource,
)


def _full_record() -> DecisionRecord:
    return DecisionRecord(
        surface="home",
        subject_kind="item",
        subject_id="42",
        mode=Mode.PERSONALIZED,
        summary="Goes with the coat you bought",
        reasons=(
            Reason(ReasonCode.PURCHASED_RELATED, "Goes with the coat", 0.7, 12, "Wool coat"),
            Reason(ReasonCode.POPULAR, "Popular right now", 0.1),
        ),
        signal_sources=(SignalSource.YOUR_ACTIVITY_HERE, SignalSource.POPULARITY),
        data_categories=("purchase_history",),
        purposes=("personalize.content",),
        consent_snapshot_id="cs-1-3-0",
        generated_at=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
        rank=1,
        rule=RuleRef("segment", "7", 2),
        matched_criteria=("bought in apparel",),
        controls=(Control(ControlKind.OPEN_CONSENT, "Manage", "personalize.content"),),
    )


def test_log_form_names_every_field_and_round_trips() -> None:
    record = _full_record()
    raw = record.to_json()
    assert set(raw) == {f.name for f in dataclasses.fields(DecisionRecord)}
    assert DecisionRecord.from_json(raw) == record
    bare = dataclasses.replace(record, rule=None, controls=(), rank=None)
    assert DecisionRecord.from_json(bare.to_json()) == bare


def test_the_log_writes_the_record_as_its_json_form() -> None:
    # The decision log hands the record itself to the jsonb codec (orjson): same JSON as to_json.
    for record in (_full_record(), dataclasses.replace(_full_record(), rule=None, controls=(), rank=None)):
        row = record.to_row()
        assert orjson.loads(orjson.dumps(row.record)) == record.to_json()
        record = dataclasses.replace(record, generated_at=datetime(2026, 11, 23, 12, 0, 0, 1500, tzinfo=UTC))
        assert orjson.loads(orjson.dumps(record)) == record.to_json()
