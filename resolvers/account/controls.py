"""The person's controls over decisions about them, over GraphQL: every control a `why` offers
is carried out here (or by setConsent / setPersonalizationLevel, for the two kinds about consent
and level), listed in `viewer { controls }`, and undone by `undoControl`. Stored per user in one
table (resolvers/model/controls.py), applied on the very next request by every surface through
the rulebook, exported, erased with the account, audited as writes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from privacy.principal import Role
from privacy.purposes import ESSENTIAL, Source
from resolvers.account.own import account_gone, own_guard
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.permissions import require
from resolvers.context import Context
from resolvers.explain.record import ControlKind
from resolvers.model.controls import StoredKind, target_problem
from resolvers.offers.rules import LIVE_OFFERS
from resolvers.segments.rules import LIVE_SEGMENTS
from sql import load_queries

Q = load_queries()
TABLES = ("user_controls", "users")


@strawberry.type(description="A control you applied to decisions about you; undo it with `undoControl`.")
class AppliedControl:
    kind: ControlKind = strawberry.field(
        description="HIDE, SHOW_LESS_LIKE_THIS or STOP_REMINDERS (the kinds that are stored)."
    )
    target: str = strawberry.field(
        description="What it applies to (item:<id>, offer:<id>, category:<name>, ...)."
    )
    applied_at: datetime = strawberry.field(description="When you applied it (UTC).")


ControlResult = Annotated[
    AppliedControl | InvalidInput,
    strawberry.union(
        "ControlResult",
        description=(
            "The stored control, or InvalidInput (a kind carried out elsewhere, a target of "
            "the wrong form or that does not exist)."
        ),
    ),
]

# The controls stored here, by the kind a `why` offers and the target's prefix.
_STORED: dict[tuple[ControlKind, str], StoredKind] = {
    (ControlKind.HIDE, "item"): StoredKind.HIDE_ITEM,
    (ControlKind.HIDE, "offer"): StoredKind.HIDE_OFFER,
    (ControlKind.HIDE, "tag"): StoredKind.HIDE_INFERENCE,
    (ControlKind.HIDE, "segment"): StoredKind.HIDE_INFERENCE,
    (ControlKind.HIDE, "model"): StoredKind.HIDE_INFERENCE,
    (ControlKind.SHOW_LESS_LIKE_THIS, "category"): StoredKind.LESS_LIKE,
    (ControlKind.SHOW_LESS_LIKE_THIS, "subcategory"): StoredKind.LESS_LIKE,
    (ControlKind.STOP_REMINDERS, "item"): StoredKind.MUTE_REMINDER,
    (ControlKind.LEAVE_EXPERIMENTS, "experiments"): StoredKind.LEAVE_EXPERIMENTS,
}
_SHOWN: dict[StoredKind, ControlKind] = {
    StoredKind.HIDE_ITEM: ControlKind.HIDE,
    StoredKind.HIDE_OFFER: ControlKind.HIDE,
    StoredKind.HIDE_INFERENCE: ControlKind.HIDE,
    StoredKind.LESS_LIKE: ControlKind.SHOW_LESS_LIKE_THIS,
    StoredKind.MUTE_REMINDER: ControlKind.STOP_REMINDERS,
    StoredKind.LEAVE_EXPERIMENTS: ControlKind.LEAVE_EXPERIMENTS,
}
_ELSEWHERE = {
    ControlKind.CHANGE_PERSONALIZATION_LEVEL: "carried out by setPersonalizationLevel",
    ControlKind.OPEN_CONSENT: "carried out by setConsent(purpose, granted)",
    ControlKind.CHANGE_SETTINGS: "carried out by setCustomization (undone by resetCustomization)",
}


def applied(row: Any) -> AppliedControl:
    stored = StoredKind(row["kind"])
    return AppliedControl(kind=_SHOWN[stored], target=row["target"], applied_at=row["created_at"])


def stored_kind(kind: ControlKind, target: str) -> tuple[StoredKind | None, list[FieldError]]:
    if kind in _ELSEWHERE:
        return None, [FieldError(field="kind", message=_ELSEWHERE[kind])]
    stored = _STORED.get((kind, target.split(":", 1)[0]))
    if stored is None:
        prefixes = sorted(p for k, p in _STORED if k is kind)
        return None, [
            FieldError(field="target", message=f"{kind.name} applies to {', '.join(prefixes)} targets")
        ]
    problem = target_problem(stored, target)
    if problem is not None:
        return None, [FieldError(field="target", message=problem)]
    return stored, []


async def _exists(ctx: Context, stored: StoredKind, target: str) -> str | None:
    """Why the target does not exist (a control about nothing would never take effect)."""
    prefix, _, rest = target.partition(":")
    if prefix == "item":
        return None if int(rest) in (await ctx.catalog()).items else "no such item"
    if prefix == "offer":
        return None if int(rest) in await ctx.reference(LIVE_OFFERS) else "no such offer"
    if prefix == "segment":
        return None if int(rest) in await ctx.reference(LIVE_SEGMENTS) else "no such segment"
    catalog = await ctx.catalog()
    if prefix == "category":
        return None if any(i.category == rest for i in catalog.items.values()) else "no such category"
    if prefix == "subcategory":
        category, _, sub = rest.partition("/")
        found = any(i.category == category and i.subcategory == sub for i in catalog.items.values())
        return None if found else "no such subcategory"
    return None  # tag:experience / tag:price_tier / model:propensity always exist


async def apply(
    info: Info[Context, None], kind: ControlKind, target: str, field: str = "target"
) -> ControlResult:
    guard, user_id = await own_guard(info)
    stored, errors = stored_kind(kind, target)
    errors = [FieldError(field=field if e.field == "target" else e.field, message=e.english) for e in errors]
    if stored is not None:
        missing = await _exists(info.context, stored, target)
        if missing:
            errors = [FieldError(field=field, message=missing)]
    if stored is None or errors:
        return InvalidInput(message="nothing changed", errors=errors)
    rows = await guard.write(
        Q.apply_control,
        purpose=ESSENTIAL,
        source=Source.ACCOUNT,
        tables=TABLES,
        subject_user_id=user_id,
        kind=stored.value,
        target=target,
    )
    if not rows:
        raise account_gone()
    return applied(rows[0])


async def viewer_controls(info: Info[Context, None]) -> list[AppliedControl]:
    model = await info.context.model()
    return [
        AppliedControl(kind=_SHOWN[e.kind], target=e.target, applied_at=e.created_at)
        for e in sorted(model.controls.entries, key=lambda e: (e.created_at, e.kind.value, e.target))
    ]


@strawberry.type
class ControlMutation:
    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description=(
            "Carry out a control offered in a `why` (HIDE, SHOW_LESS_LIKE_THIS, STOP_REMINDERS) on "
            "its target; it applies from your next request on every surface."
        ),
    )
    async def apply_control(
        self,
        info: Info[Context, None],
        kind: Annotated[
            ControlKind,
            strawberry.argument(
                description=(
                    "HIDE, SHOW_LESS_LIKE_THIS or STOP_REMINDERS; the other kinds are carried out by "
                    "setPersonalizationLevel and setConsent."
                )
            ),
        ],
        target: Annotated[
            str,
            strawberry.argument(
                description=(
                    "The `target` of the control offered in a why. HIDE: item:<id>, offer:<id>, "
                    "tag:experience, tag:price_tier, model:propensity or segment:<id>; SHOW_LESS_LIKE_THIS: "
                    "category:<name> or subcategory:<category>/<name>; STOP_REMINDERS: item:<id>."
                )
            ),
        ],
    ) -> ControlResult:
        return await apply(info, kind, target)

    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description="Undo a control you applied (see `viewer { controls }`).",
    )
    async def undo_control(
        self,
        info: Info[Context, None],
        kind: Annotated[
            ControlKind, strawberry.argument(description="The kind the control was applied with.")
        ],
        target: Annotated[str, strawberry.argument(description="The target the control was applied to.")],
    ) -> ControlResult:
        guard, user_id = await own_guard(info)
        stored, errors = stored_kind(kind, target)
        if stored is None:
            return InvalidInput(message="nothing changed", errors=errors)
        rows = await guard.write(
            Q.undo_control,
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=TABLES,
            subject_user_id=user_id,
            kind=stored.value,
            target=target,
        )
        if not rows:
            return InvalidInput(
                message="nothing changed",
                errors=[FieldError(field="target", message="no such control is applied")],
            )
        return applied(rows[0])
