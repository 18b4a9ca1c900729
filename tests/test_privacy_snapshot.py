"""The snapshot rules as pure functions: order of refusals, notice versions, GPC overrides."""

from __future__ import annotations

import pytest

from privacy.consent import ConsentSnapshot, Level, split_grants
from privacy.guard import Guard
from privacy.principal import Principal, Role
from privacy.purposes import ESSENTIAL, PURPOSES, Source


def snap(**kw: object) -> ConsentSnapshot:
    base: dict[str, object] = {"user_id": 1, "level": Level.FULL, "granted": frozenset(PURPOSES)}
    base.update(kw)
    return ConsentSnapshot(**base)  # type: ignore[arg-type]


def test_refusal_order() -> None:
    assert snap(user_id=None).refusal(ESSENTIAL, Source.ACCOUNT) == "anonymous request"
    assert snap(level=Level.NONE).refusal(ESSENTIAL, Source.BEHAVIOURAL) is None
    assert snap().refusal("personalize.everything", Source.STATED) == "unknown purpose personalize.everything"
    assert (
        snap(level=Level.NONE).refusal("personalize.content", Source.STATED) == "personalization level NONE"
    )
    assert "BASIC" in (snap(level=Level.BASIC).refusal("personalize.content", Source.BEHAVIOURAL) or "")
    assert snap(level=Level.BASIC).allows("personalize.content", Source.STATED)
    s = snap(objected_to_marketing=True, gpc=True, is_minor=True)
    assert s.refusal("marketing.offers", Source.DERIVED) == "objection to direct marketing"
    assert (
        snap(gpc=True, is_minor=True).refusal("marketing.offers", Source.DERIVED)
        == "Global Privacy Control signal"
    )
    assert (
        snap(is_minor=True).refusal("marketing.offers", Source.DERIVED)
        == "no profiling-based marketing for minors"
    )
    assert snap(is_minor=True).allows("marketing.offers", Source.ACCOUNT)  # not profiling-based
    assert (
        snap(granted=frozenset()).refusal("personalize.content", Source.STATED)
        == "no consent for personalize.content"
    )


def test_gpc_override_is_per_purpose() -> None:
    s = snap(gpc=True, gpc_overrides=frozenset({"marketing.offers"}))
    assert s.allows("marketing.offers", Source.DERIVED)
    assert not s.allows("marketing.communications.email", Source.ACCOUNT)
    assert s.snapshot_id != snap().snapshot_id  # GPC is part of the snapshot id


def test_grants_count_only_for_the_current_notice_version() -> None:
    current = PURPOSES["personalize.content"].version
    granted, stale, overrides = split_grants(
        [
            ("personalize.content", True, current - 1, False),
            ("marketing.offers", True, PURPOSES["marketing.offers"].version, True),
            ("personalize.profiling", False, 1, False),
            ("retired.purpose", True, 1, False),
        ]
    )
    assert (
        granted == {"marketing.offers"}
        and stale == {"personalize.content"}
        and overrides == {"marketing.offers"}
    )
    s = snap(granted=granted, stale=stale)
    assert "notice for personalize.content changed" in (s.refusal("personalize.content", Source.STATED) or "")


def test_guard_names_tables_and_refuses_other_users() -> None:
    guard = Guard(pool=None, principal=Principal(Role.USER, "1"), request_id="r", snapshot=snap())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="names the tables"):
        guard.record(ESSENTIAL, "users", 1)
    with pytest.raises(ValueError, match="names the tables"):
        guard.record(ESSENTIAL, (), 1)
    from privacy.guard import NotYourData

    with pytest.raises(NotYourData):
        guard.check(ESSENTIAL, Source.ACCOUNT, 2)
    analyst = Guard(pool=None, principal=Principal(Role.ANALYST, "a"), request_id="r", snapshot=snap())  # type: ignore[arg-type]
    with pytest.raises(NotYourData):
        analyst.check(ESSENTIAL, Source.ACCOUNT, 1)
