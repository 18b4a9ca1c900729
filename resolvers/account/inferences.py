"""What is inferred about the user (layout tags and matched segments), why, and whether they hid
it. Hidden inferences are not used: tags fall back to defaults, a hidden segment never matches an
offer. `describe_inferences` gives the same list in plain words for the data export."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from privacy.consent import ConsentSnapshot
from privacy.guard import Guard, load_account
from privacy.principal import Role
from privacy.purposes import OFFERS, Source
from resolvers.account.controls import apply
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.permissions import require
from resolvers.config import DomainConfig
from resolvers.context import Context
from resolvers.explain.record import (
    Control,
    ControlKind,
    DecisionRecord,
    Mode,
    Reason,
    ReasonCode,
    RuleRef,
    SignalSource,
    Why,
    render_why,
)
from resolvers.model.attributes import ATTRIBUTES
from resolvers.model.catalog import Catalog
from resolvers.model.propensity import PROPENSITY_KEY
from resolvers.model.reference import REFERENCE
from resolvers.model.reference import catalog as load_catalog
from resolvers.model.tags import EXPERIENCE_KEY, PRICE_TIER_KEY
from resolvers.model.user import Account, UserModel
from resolvers.segments.rules import LIVE_SEGMENTS, SegmentVersion, referenced_attributes, segment_match

_KEY = re.compile(r"^(tag:experience|tag:price_tier|model:propensity|segment:[0-9]{1,18})$")


@dataclass(frozen=True)
class Inferred:
    key: str
    kind: str  # tag | segment | model
    value: str | None
    record: DecisionRecord | None
    hidden: bool


@strawberry.type(description="Something inferred about you, why, and whether you hid it.")
class Inference:
    key: str = strawberry.field(
        description=(
            "What is inferred: `tag:experience`, `tag:price_tier`, `model:propensity` or "
            "`segment:<id>`; pass it to `hideInference`."
        )
    )
    kind: str = strawberry.field(
        description=(
            "`tag` (a layout tag), `model` (a prediction from your own signals) or `segment` "
            "(a marketer's audience you are in)."
        )
    )
    value: str | None = strawberry.field(
        description=(
            "The inferred value: NEWBIE/REGULAR/POWER for tag:experience, BUDGET/MID/LUXURY "
            "for tag:price_tier, likely / not likely to buy soon for model:propensity, the "
            "audience's name for a segment."
        )
    )
    why: Why | None = strawberry.field(description="Why it was inferred; null when you hid it.")
    hidden: bool = strawberry.field(
        description="You hid it: it is not used for any decision until you undo it."
    )


@strawberry.type(description="An inference you hid; undo with `undoControl(kind: HIDE, target: key)`.")
class HiddenInference:
    key: str = strawberry.field(description="The inference that is now hidden.")


HideResult = Annotated[
    HiddenInference | InvalidInput,
    strawberry.union(
        "HideInferenceResult",
        description=(
            "The hidden inference, or InvalidInput (a key of the wrong form or an unknown segment)."
        ),
    ),
]


def _segment_record(
    seg: SegmentVersion, attrs: dict[str, Any], consent: ConsentSnapshot, now: datetime
) -> DecisionRecord:
    used = [ATTRIBUTES[a] for a in dict.fromkeys(referenced_attributes(seg.rule)) if a in attrs]
    text = f"You match the audience '{seg.name}'"
    purposes = tuple(dict.fromkeys([OFFERS, *(a.purpose for a in used)]))
    return DecisionRecord(
        surface="inferences",
        subject_kind="tag",
        subject_id=f"segment:{seg.segment_id}",
        mode=Mode.PERSONALIZED,
        summary=text,
        reasons=(Reason(ReasonCode.SEGMENT_MATCH, text, 1.0),),
        signal_sources=(SignalSource.MARKETER_RULE, SignalSource.YOUR_ACTIVITY_HERE),
        data_categories=tuple(dict.fromkeys(a.data_category for a in used)),
        purposes=purposes,
        consent_snapshot_id=consent.snapshot_id,
        generated_at=now,
        rule=RuleRef("segment", str(seg.segment_id), seg.version),
        matched_criteria=tuple(f"A rule on {a.description or a.name}" for a in used),
        controls=(Control(ControlKind.HIDE, "Hide this inference", target=f"segment:{seg.segment_id}"),),
    )


async def list_inferences(
    ctx_config: DomainConfig, model: UserModel, catalog: Catalog, segments: dict[int, SegmentVersion]
) -> list[Inferred]:
    consent = model.consent
    if model.account is None:
        return []
    hidden = model.controls.hidden_inferences
    tags = await model.tags(ctx_config.tags)
    out = [
        Inferred(
            EXPERIENCE_KEY, "tag", tags.experience.value, tags.experience_record, EXPERIENCE_KEY in hidden
        ),
        Inferred(
            PRICE_TIER_KEY, "tag", tags.price_tier.value, tags.price_tier_record, PRICE_TIER_KEY in hidden
        ),
    ]
    if PROPENSITY_KEY in hidden:
        out.append(Inferred(PROPENSITY_KEY, "model", None, None, True))
    else:
        propensity = await model.propensity()
        if propensity is not None:
            value = "likely to buy soon" if propensity.likely else "not likely to buy soon"
            out.append(Inferred(PROPENSITY_KEY, "model", value, propensity.record, False))
    attrs: dict[str, Any] = {}
    if consent.allows(OFFERS, Source.DERIVED):  # segments see exactly what offer targeting sees
        attrs = await model.attributes(catalog, ctx_config.tags, ctx_config.model.spend_window_days)
    for seg in segments.values():
        key = f"segment:{seg.segment_id}"
        if key in hidden:
            out.append(Inferred(key, "segment", seg.name, None, True))
            continue
        matched, _ = segment_match(seg, attrs, hidden, consent)
        if matched:
            out.append(
                Inferred(key, "segment", seg.name, _segment_record(seg, attrs, consent, model.now), False)
            )
    return out


async def describe_inferences(
    guard: Guard, user_id: int, config: DomainConfig | None = None
) -> list[dict[str, Any]]:
    """The data-export form: each inference with its logic in plain words."""
    config = config or DomainConfig()
    _, row = await load_account(guard.pool, user_id, False)
    model = UserModel(
        guard, Account.of(row) if row is not None else None, reference_ttl_s=config.model.reference_ttl_s
    )
    catalog = await load_catalog(guard.pool, config.model.reference_ttl_s)
    segments = await REFERENCE.get(guard.pool, LIVE_SEGMENTS, config.model.reference_ttl_s)
    found = await list_inferences(config, model, catalog, segments)
    out: list[dict[str, Any]] = []
    for inf in found:
        if inf.hidden:
            logic = "You hid this inference; it is not used."
        elif inf.record is None or inf.record.mode is not Mode.PERSONALIZED:
            logic = "A default value, not computed from your data."
        else:
            criteria = "; ".join(inf.record.matched_criteria)
            logic = (
                f"{inf.record.summary}. Decided by rule {inf.record.rule.kind if inf.record.rule else 'n/a'}"
            )
            if inf.record.rule:
                logic += f" {inf.record.rule.id} version {inf.record.rule.version}"
            logic += f", from: {criteria}." if criteria else "."
        out.append(
            {"key": inf.key, "kind": inf.kind, "value": inf.value, "logic": logic, "hidden": inf.hidden}
        )
    return out


async def viewer_inferences(info: Info[Context, None]) -> list[Inference]:
    ctx = info.context
    found = await list_inferences(
        ctx.config, await ctx.model(), await ctx.catalog(), await ctx.reference(LIVE_SEGMENTS)
    )
    return [
        Inference(
            key=i.key,
            kind=i.kind,
            value=i.value,
            why=render_why(i.record, info.context.language) if i.record else None,
            hidden=i.hidden,
        )
        for i in found
    ]


@strawberry.type
class InferenceMutation:
    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description=(
            "Hide an inference about you (a tag, the purchase prediction `model:propensity` or a "
            "segment); it stops being used. The same as "
            "`applyControl(kind: HIDE, target: key)`; undo with `undoControl`."
        ),
    )
    async def hide_inference(
        self,
        info: Info[Context, None],
        key: Annotated[
            str,
            strawberry.argument(
                description=(
                    "`tag:experience`, `tag:price_tier`, `model:propensity` or `segment:<id>` "
                    "(an Inference's `key`)."
                )
            ),
        ],
    ) -> HideResult:
        if not _KEY.fullmatch(key):
            return InvalidInput(
                message="not hidden",
                errors=[
                    FieldError(
                        field="key",
                        message="use tag:experience, tag:price_tier, model:propensity or segment:<id>",
                    )
                ],
            )
        done = await apply(info, ControlKind.HIDE, key, field="key")
        if isinstance(done, InvalidInput):
            return InvalidInput(message="not hidden", errors=done.errors)
        return HiddenInference(key=key)
