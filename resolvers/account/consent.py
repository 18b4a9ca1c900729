"""Consent over GraphQL: the public notices, the viewer's effective consent and receipts, and
the calls that change them (consent per purpose, personalization level, objection to direct
marketing). Every change is one statement: receipt + current state + consent_version bump."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from privacy.principal import Role
from privacy.purposes import ESSENTIAL, MARKETING_PURPOSES, PURPOSES, Purpose, Source
from privacy.retention import RetentionPolicy
from resolvers.account.own import account_gone, own_guard
from resolvers.common.enums import describe_values
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.permissions import require
from resolvers.context import Context
from sql import load_queries

Q = load_queries()
HISTORY_MAX = 500
_MARKETING = sorted(MARKETING_PURPOSES)
_MARKETING_VERSIONS = [PURPOSES[p].version for p in _MARKETING]


@strawberry.enum(description="How a consent choice was made.")
class ConsentMethod(Enum):
    EXPLICIT = "explicit"
    GPC = "gpc"
    OBJECTION = "objection"
    DEFAULT = "default"


describe_values(
    ConsentMethod,
    {
        "EXPLICIT": "You chose it yourself (`setConsent`, or withdrawing a marketing objection).",
        "GPC": (
            "Recorded from your browser's Global Privacy Control signal (Sec-GPC), which "
            "withdraws marketing purposes."
        ),
        "OBJECTION": "Recorded when you objected to direct marketing (`objectToDirectMarketing`).",
        "DEFAULT": (
            "No choice recorded yet: the purpose is not granted (except essential.service, "
            "which is required)."
        ),
    },
)


@strawberry.type(description="A purpose's plain-language notice: what is used, why, what you get.")
class Notice:
    uses: str = strawberry.field(description="What data the purpose uses, in plain words.")
    why: str = strawberry.field(description="Why the data is used, in plain words.")
    benefit: str = strawberry.field(description="What you get from it.")
    version: int = strawberry.field(
        description=(
            "The notice version; a choice given to an older version is not in effect until confirmed again."
        )
    )
    text: str = strawberry.field(
        description=("The whole notice in one sentence ('We use ... . You get ... .'), ready to display.")
    )
    retention: str = strawberry.field(description="How long the records this purpose creates are kept.")


@strawberry.type(description="A purpose data may be used for, with its notice.")
class PurposeNotice:
    key: str = strawberry.field(
        description=(
            "The purpose key used everywhere else (`setConsent(purpose)`, `why.purposes`), "
            "e.g. `personalize.content`."
        )
    )
    title: str = strawberry.field(description="Short display title.")
    notice: Notice = strawberry.field(description="The plain-language notice for the purpose.")
    marketing: bool = strawberry.field(
        description=(
            "A direct-marketing purpose: withdrawn by a GPC signal and by an objection to direct marketing."
        )
    )
    required: bool = strawberry.field(
        description=("Needed to run the service (essential.service): always granted, cannot be withdrawn.")
    )
    data_categories: list[str] = strawberry.field(
        description=(
            "The fideslang data categories the purpose may use, e.g. `user.behavior.purchase_history`."
        )
    )


@strawberry.type(description="The viewer's choice for one purpose and whether it is in effect now.")
class ConsentState:
    purpose: str = strawberry.field(description="The purpose key.")
    title: str = strawberry.field(description="The purpose's display title.")
    notice: Notice = strawberry.field(description="The purpose's current notice.")
    granted: bool = strawberry.field(description="What the user chose (essential.service: always).")
    method: ConsentMethod = strawberry.field(
        description="How the stored choice was made; DEFAULT when nothing is stored."
    )
    updated_at: datetime | None = strawberry.field(
        description="When the choice was last changed; null when nothing is stored."
    )
    accepted_notice_version: int | None = strawberry.field(
        description="The notice version the choice was made under; null when nothing is stored."
    )
    effective: bool = strawberry.field(
        description="Whether the purpose is in effect after level, GPC, objection and minor rules."
    )
    reason: str | None = strawberry.field(description="Why it is not in effect, when it is not.")
    overrides_gpc: bool = strawberry.field(description="An explicit opt-in that resolved a GPC conflict.")


@strawberry.type(description="A consent receipt: one append-only record of a choice.")
class ConsentReceipt:
    receipt_id: strawberry.ID = strawberry.field(description="Id of the receipt.")
    purpose: str = strawberry.field(description="The purpose key the choice is about.")
    granted: bool = strawberry.field(description="True: consent given; false: withdrawn.")
    method: ConsentMethod = strawberry.field(description="How the choice was made.")
    notice_version: int = strawberry.field(description="The notice version shown when the choice was made.")
    note: str | None = strawberry.field(
        description=(
            "Context recorded with the choice (e.g. a GPC override or an objection); null when none."
        )
    )
    at: datetime = strawberry.field(description="When the choice was recorded (UTC).")


@strawberry.type(description="The objection to direct marketing and the receipts it produced.")
class MarketingObjection:
    objected: bool = strawberry.field(
        description="True after `objectToDirectMarketing`, false after `withdrawMarketingObjection`."
    )
    receipts: list[ConsentReceipt] = strawberry.field(
        description="The consent receipts this change wrote, one per marketing purpose."
    )


SetConsentResult = Annotated[
    ConsentReceipt | InvalidInput,
    strawberry.union(
        "SetConsentResult",
        description=(
            "The receipt of the recorded choice, or InvalidInput (unknown or required "
            "purpose, marketing while objected)."
        ),
    ),
]


def notice_of(p: Purpose, retention: RetentionPolicy) -> Notice:
    return Notice(
        uses=p.uses,
        why=p.why,
        benefit=p.benefit,
        version=p.version,
        text=p.notice_text,
        retention=p.retention_text(retention),
    )


def receipt_of(row: Any) -> ConsentReceipt:
    return ConsentReceipt(
        receipt_id=strawberry.ID(str(row["receipt_id"])),
        purpose=row["purpose"],
        granted=row["granted"],
        method=ConsentMethod(row["method"]),
        notice_version=row["notice_version"],
        note=row["note"],
        at=row["at"],
    )


async def viewer_consent(info: Info[Context, None]) -> list[ConsentState]:
    """Every purpose with the stored choice and its effective state for this request."""
    guard, user_id = await own_guard(info)
    rows = await guard.fetch(
        Q.export_consents,
        user_id,
        purpose=ESSENTIAL,
        source=Source.ACCOUNT,
        tables=("consents",),
        subject_user_id=user_id,
    )
    stored = {r["purpose"]: r for r in rows}
    out: list[ConsentState] = []
    for key, p in PURPOSES.items():
        row = stored.get(key)
        reason = guard.snapshot.effective_refusal(key)
        out.append(
            ConsentState(
                purpose=key,
                title=p.title,
                notice=notice_of(p, info.context.config.retention),
                granted=p.required or bool(row and row["granted"]),
                method=ConsentMethod(row["method"]) if row else ConsentMethod.DEFAULT,
                updated_at=row["updated_at"] if row else None,
                accepted_notice_version=row["notice_version"] if row else None,
                effective=reason is None,
                reason=reason,
                overrides_gpc=bool(row and row["overrides_gpc"]),
            )
        )
    return out


async def viewer_consent_history(
    info: Info[Context, None],
    limit: Annotated[
        int, strawberry.argument(description="How many receipts, newest first; clamped to 1..500.")
    ] = 100,
) -> list[ConsentReceipt]:
    guard, user_id = await own_guard(info)
    rows = await guard.fetch(
        Q.consent_history,
        user_id,
        max(1, min(limit, HISTORY_MAX)),
        purpose=ESSENTIAL,
        source=Source.ACCOUNT,
        tables=("consent_events",),
        subject_user_id=user_id,
    )
    return [receipt_of(r) for r in rows]


async def viewer_consent_snapshot_id(info: Info[Context, None]) -> str:
    guard, _ = await own_guard(info)
    return guard.snapshot.snapshot_id


_USER = [require(Role.USER)]


@strawberry.type
class ConsentQuery:
    @strawberry.field(description="Every purpose with its plain-language notice (public).")
    def purposes(self, info: Info[Context, None]) -> list[PurposeNotice]:
        retention = info.context.config.retention
        return [
            PurposeNotice(
                key=p.key,
                title=p.title,
                notice=notice_of(p, retention),
                marketing=p.marketing,
                required=p.required,
                data_categories=list(p.data_categories),
            )
            for p in PURPOSES.values()
        ]


@strawberry.type
class ConsentMutation:
    @strawberry.mutation(
        permission_classes=_USER,
        description="Grant or withdraw consent for one purpose; returns the receipt. Applies next request.",
    )
    async def set_consent(
        self,
        info: Info[Context, None],
        purpose: Annotated[
            str, strawberry.argument(description="A purpose key from `purposes`, e.g. `personalize.content`.")
        ],
        granted: Annotated[
            bool, strawberry.argument(description="True to give consent, false to withdraw it.")
        ],
    ) -> SetConsentResult:
        guard, user_id = await own_guard(info)
        known = PURPOSES.get(purpose)
        problem: str | None = None
        if known is None:
            problem = f"unknown purpose; one of {', '.join(PURPOSES)}"
        elif known.required:
            problem = (
                f"{ESSENTIAL} is needed to run the service and cannot be withdrawn; erase your data instead"
            )
        elif granted and known.marketing and guard.snapshot.objected_to_marketing:
            problem = "you objected to direct marketing; withdraw the objection first"
        if problem is not None or known is None:
            return InvalidInput(
                message="consent not changed", errors=[FieldError(field="purpose", message=problem or "")]
            )
        rows = await guard.write(
            Q.set_consent,
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=("consents", "consent_events", "users"),
            subject_user_id=user_id,
            choice=purpose,
            granted=granted,
            version=known.version,
            gpc=info.context.gpc,
            marketing=known.marketing,
        )
        if not rows:
            raise account_gone()
        return receipt_of(rows[0])

    @strawberry.mutation(
        permission_classes=_USER,
        description="Object to direct marketing (Art. 21): marketing and reminders off from next request.",
    )
    async def object_to_direct_marketing(self, info: Info[Context, None]) -> MarketingObjection:
        guard, user_id = await own_guard(info)
        rows = await guard.write(
            Q.object_to_marketing,
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=("users", "consents", "consent_events"),
            subject_user_id=user_id,
            purposes=_MARKETING,
            versions=_MARKETING_VERSIONS,
        )
        return MarketingObjection(objected=True, receipts=[receipt_of(r) for r in rows])

    @strawberry.mutation(
        permission_classes=_USER,
        description="Withdraw the marketing objection; marketing stays off until you opt in per purpose.",
    )
    async def withdraw_marketing_objection(self, info: Info[Context, None]) -> MarketingObjection:
        guard, user_id = await own_guard(info)
        rows = await guard.write(
            Q.withdraw_marketing_objection,
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=("users", "consent_events"),
            subject_user_id=user_id,
            purposes=_MARKETING,
            versions=_MARKETING_VERSIONS,
        )
        return MarketingObjection(objected=False, receipts=[receipt_of(r) for r in rows])
