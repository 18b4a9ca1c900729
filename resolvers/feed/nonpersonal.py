"""The non-personalized and stated-interest feeds, pure.

Non-personalized (anonymous, level NONE, missing consent, minors on marketing surfaces, cold
start) is deterministic: editorial picks first, then popularity, then item id, so a level-NONE user
gets exactly what an anonymous visitor with the same context gets (less only what that person
hid themself). Sensitive items appear only here, and only on their own category page
(CONTEXTUAL), never on shared surfaces."""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from privacy.vocabulary import DataCategory
from resolvers.explain.record import (
    Control,
    ControlKind,
    DecisionRecord,
    Mode,
    Reason,
    ReasonCode,
    SignalSource,
)
from resolvers.model.catalog import Catalog, Item, plain_key
from resolvers.model.controls import item_target, subcategory_target
from resolvers.model.rulebook import Rulebook

if TYPE_CHECKING:
    from resolvers.feed.rules import FeedRequest


def controls_for(purposes: tuple[str, ...], item: Item | None = None) -> tuple[Control, ...]:
    """The controls of a feed item's why: hide it and show less like it (for a signed-in person's
    item), change the level, review each purpose used."""
    controls: list[Control] = []
    if item is not None:
        controls += [
            Control(
                ControlKind.SHOW_LESS_LIKE_THIS,
                f"Show less like this ({item.subcategory.replace('_', ' ')})",
                target=subcategory_target(item.category, item.subcategory),
            ),
            Control(ControlKind.HIDE, "Hide this", target=item_target(item.item_id)),
        ]
    controls.append(Control(ControlKind.CHANGE_PERSONALIZATION_LEVEL, "Change your personalization level"))
    controls += [Control(ControlKind.OPEN_CONSENT, f"Review your consent for {p}", p) for p in purposes]
    return tuple(controls)


def _candidates(req: FeedRequest, catalog: Catalog, rules: Rulebook) -> list[Item]:
    """Deterministic: editorial picks first, then popularity, then id (precomputed in the
    catalog), less what the person hid."""
    order = (
        catalog.plain_by_category.get(req.category, ()) if req.category is not None else catalog.plain_order
    )
    hidden = rules.controls.hidden_items
    return [i for i in order if i.item_id not in hidden] if hidden else list(order)


def _plain_record(req: FeedRequest, sid: str, item: Item, rank: int) -> DecisionRecord:
    reasons: list[Reason] = []
    sources = [SignalSource.POPULARITY]
    if req.category is not None:
        reasons.append(Reason(ReasonCode.CONTEXT, f"Because you are browsing {req.category}", 0.5))
        sources.insert(0, SignalSource.CONTEXT)
    if item.editorial_rank is not None:
        reasons.append(Reason(ReasonCode.EDITORIAL, "Picked by our editors", 0.5))
    else:
        reasons.append(Reason(ReasonCode.POPULAR, "Popular right now", 0.5))
    if len(reasons) == 1:
        reasons[0] = Reason(reasons[0].code, reasons[0].text, 1.0)
    return DecisionRecord(
        surface=req.surface.value,
        subject_kind="item",
        subject_id=str(item.item_id),
        mode=Mode.CONTEXTUAL if req.category is not None else Mode.NON_PERSONALIZED,
        summary=reasons[0].text,
        reasons=tuple(reasons),
        signal_sources=tuple(sources),
        data_categories=(),
        purposes=(),
        consent_snapshot_id=sid,
        generated_at=req.now,
        rank=rank,
        matched_criteria=("Shown to everyone in this context",),
        controls=controls_for(()),
    )


def non_personalized(
    req: FeedRequest, sid: str, catalog: Catalog, rules: Rulebook
) -> list[tuple[Item, DecisionRecord]]:
    return [
        (item, _plain_record(req, sid, item, rank))
        for rank, item in enumerate(_candidates(req, catalog, rules)[: req.limit], start=1)
    ]


def stated_interest_feed(
    req: FeedRequest,
    sid: str,
    purposes: tuple[str, ...],
    catalog: Catalog,
    interests: tuple[str, ...],
    rules: Rulebook,
) -> list[tuple[Item, DecisionRecord]]:
    """Level BASIC: items in the categories the user stated first (sensitive interests ignored),
    then the non-personalized order. Only stated items are PERSONALIZED; the rest say why they
    are there without citing the user's data."""
    wanted = [
        c for c in interests if c in catalog.plain_by_category and c not in catalog.sensitive_categories
    ]
    if req.category is not None:
        wanted = [c for c in wanted if c == req.category]
    stated = sorted(
        (i for c in wanted for i in catalog.plain_by_category[c] if rules.excludes(i) is None),
        key=plain_key,
    )[: req.limit]
    chosen = {i.item_id for i in stated}
    rest = (i for i in _candidates(req, catalog, rules) if i.item_id not in chosen and not i.sensitive)
    ordered = stated + list(islice(rest, req.limit - len(stated)))
    out: list[tuple[Item, DecisionRecord]] = []
    for rank, item in enumerate(ordered[: req.limit], start=1):
        if item.item_id not in chosen:
            out.append((item, _plain_record(req, sid, item, rank)))
            continue
        reason = Reason(
            ReasonCode.STATED_INTEREST, f"Because you told us you are interested in {item.category}", 1.0
        )
        record = DecisionRecord(
            surface=req.surface.value,
            subject_kind="item",
            subject_id=str(item.item_id),
            mode=Mode.PERSONALIZED,
            summary=reason.text,
            reasons=(reason,),
            signal_sources=(SignalSource.STATED_BY_YOU,),
            data_categories=(DataCategory.INTERESTS,),
            purposes=purposes,
            consent_snapshot_id=sid,
            generated_at=req.now,
            rank=rank,
            matched_criteria=("An interest you chose in your profile",),
            controls=controls_for(purposes, item=item),
        )
        out.append((item, record))
    return out
