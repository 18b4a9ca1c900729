"""Admins register who may spend privacy budget, and cap each dataset across all of them.

An analyst (role ANALYST: the DP templates) or a marketer (role MARKETER: DP segment sizes)
exists only once an admin created them here with a budget; a token for any other subject gets
nothing. The dataset cap bounds the total epsilon any one person's data is exposed to, summed
over every spender (privacy/PROOFS.md, "Budget")."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from privacy.dp import ledger
from privacy.dp.epsilon import EpsilonRefused, to_cap, to_delta_cap
from privacy.principal import Role
from resolvers.analytics.types import PrivacyBudget
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.permissions import require
from resolvers.context import Context

ADMIN = [require(Role.ADMIN)]
# The id is the `sub` of the spender's tokens, compared exactly: printable ASCII, no spaces.
SPENDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}")
MAX_NAME = 120


@strawberry.enum(name="SpenderRole", description="What a registered spender may ask.")
class SpenderRoleEnum(Enum):
    ANALYST = strawberry.enum_value("analyst", description="The DP templates (token role analyst).")
    MARKETER = strawberry.enum_value("marketer", description="DP segment sizes (token role marketer).")


@strawberry.type(description="An analyst or marketer an admin registered, with their budget.")
class Analyst:
    id: str = strawberry.field(description="Their id: the `sub` of their tokens.")
    name: str = strawberry.field(description="Display name.")
    role: SpenderRoleEnum = strawberry.field(description="What they may ask.")
    created_by: str = strawberry.field(description="The admin who registered them (token label).")
    created_at: datetime = strawberry.field(description="When they were registered.")
    budget: PrivacyBudget | None = strawberry.field(
        description="Their budget on the audience dataset; null when they have none."
    )


@strawberry.type(
    description="A dataset's cap across all analysts and marketers: the bound on any one person's exposure."
)
class DatasetBudget:
    dataset: str = strawberry.field(description="The dataset's name.")
    epsilon_cap: Decimal = strawberry.field(
        description="The most epsilon all spenders together may spend on it."
    )
    epsilon_spent: Decimal = strawberry.field(description="Epsilon spent on it so far, by everyone.")
    epsilon_remaining: Decimal = strawberry.field(description="epsilonCap - epsilonSpent.")
    delta_cap: Decimal = strawberry.field(description="The most delta all spenders together may spend on it.")
    delta_spent: Decimal = strawberry.field(description="Delta spent on it so far, by everyone.")


@strawberry.input(description="A new analyst or marketer and their budget.")
class CreateAnalystInput:
    id: str = strawberry.field(description="The `sub` of their tokens (letters, digits, . _ @ : -).")
    name: str = strawberry.field(description="Display name (1..120 characters, no control characters).")
    role: SpenderRoleEnum = strawberry.field(
        default=SpenderRoleEnum.ANALYST, description="What they may ask (ANALYST by default)."
    )
    epsilon_cap: float | None = strawberry.field(
        default=None,
        description="Their epsilon cap on the audience dataset (default: dp.default_epsilon_cap).",
    )
    delta_cap: float | None = strawberry.field(
        default=None, description="Their delta cap (default: dp.default_delta_cap)."
    )


CreateAnalystResult = Annotated[
    Analyst | InvalidInput,
    strawberry.union(
        "CreateAnalystResult",
        description=("The registered spender, or InvalidInput (bad id, name or caps, or the id is taken)."),
    ),
]
SetDatasetBudgetResult = Annotated[
    DatasetBudget | InvalidInput,
    strawberry.union(
        "SetDatasetBudgetResult",
        description=(
            "The dataset budget now in effect, or InvalidInput (unknown dataset, bad cap, cap"
            " below what is spent)."
        ),
    ),
]


def _budget(b: ledger.Budget | None) -> PrivacyBudget | None:
    if b is None:
        return None
    return PrivacyBudget(dataset=b.dataset, cap=b.cap, spent=b.spent, remaining=b.remaining)


def _analyst(r: ledger.SpenderRecord) -> Analyst:
    return Analyst(
        id=r.spender_id,
        name=r.name,
        role=SpenderRoleEnum[r.role.name],
        created_by=r.created_by,
        created_at=r.created_at,
        budget=_budget(r.budget),
    )


def _dataset(b: ledger.Budget) -> DatasetBudget:
    return DatasetBudget(
        dataset=b.dataset,
        epsilon_cap=b.cap,
        epsilon_spent=b.spent,
        epsilon_remaining=b.remaining,
        delta_cap=b.delta_cap,
        delta_spent=b.delta_spent,
    )


def _text_problem(value: str, limit: int) -> str | None:
    if not value.strip():
        return "must not be empty"
    if len(value) > limit:
        return f"at most {limit} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "must not contain control characters"
    return None


def _cap(raw: float | None, default: Decimal, field: str, errors: list[FieldError], delta: bool) -> Decimal:
    if raw is None:
        return default
    try:
        return to_delta_cap(raw) if delta else to_cap(raw)
    except EpsilonRefused as exc:
        errors.append(FieldError(field=field, message=str(exc)))
        return Decimal(0)


@strawberry.type
class SpenderAdminQuery:
    @strawberry.field(permission_classes=ADMIN, description="Every registered analyst and marketer.")
    async def analysts(self, info: Info[Context, None]) -> list[Analyst]:
        ctx = info.context
        return [_analyst(r) for r in await ledger.spenders(ctx.pool, ctx.config.dp.dataset)]

    @strawberry.field(permission_classes=ADMIN, description="Each dataset's cap across all spenders.")
    async def dataset_budgets(self, info: Info[Context, None]) -> list[DatasetBudget]:
        return [_dataset(b) for b in await ledger.dataset_budgets(info.context.pool)]


@strawberry.type
class SpenderAdminMutation:
    @strawberry.mutation(
        permission_classes=ADMIN,
        description=(
            "Register an analyst or a marketer with a budget on the audience dataset. Until this, "
            "a token for them gets nothing."
        ),
    )
    async def create_analyst(
        self,
        info: Info[Context, None],
        input: Annotated[
            CreateAnalystInput, strawberry.argument(description="Who to register and their caps.")
        ],
    ) -> CreateAnalystResult:
        ctx = info.context
        dp = ctx.config.dp
        errors: list[FieldError] = []
        if not SPENDER_ID.fullmatch(input.id):
            errors.append(
                FieldError(
                    field="input.id",
                    message="1 to 64 letters, digits or . _ @ : - (the first a letter or digit)",
                )
            )
        problem = _text_problem(input.name, MAX_NAME)
        if problem:
            errors.append(FieldError(field="input.name", message=problem))
        epsilon_cap = _cap(input.epsilon_cap, dp.default_epsilon_cap, "input.epsilonCap", errors, delta=False)
        delta_cap = _cap(input.delta_cap, dp.default_delta_cap, "input.deltaCap", errors, delta=True)
        if errors:
            return InvalidInput(message="nobody was registered", errors=errors)
        spender = ledger.Spender(input.id, ledger.SpenderRole[input.role.name])
        record = await ledger.create_spender(
            ctx.pool,
            spender,
            input.name.strip(),
            dp.dataset,
            epsilon_cap,
            delta_cap,
            ctx.request_id,
            ctx.principal.label,
        )
        if record is None:
            return InvalidInput(
                message="nobody was registered",
                errors=[FieldError(field="input.id", message="already registered")],
            )
        return _analyst(record)

    @strawberry.mutation(
        permission_classes=ADMIN,
        description=(
            "Set a dataset's caps across all analysts and marketers (never below what is spent): "
            "the most epsilon (and delta) any one person's data may be exposed to, in total."
        ),
    )
    async def set_dataset_budget(
        self,
        info: Info[Context, None],
        dataset: Annotated[str, strawberry.argument(description="The dataset's name.")],
        epsilon_cap: Annotated[
            float, strawberry.argument(description="The new epsilon cap; not below what is spent.")
        ],
        delta_cap: Annotated[
            float | None, strawberry.argument(description="The new delta cap; null keeps the current one.")
        ] = None,
    ) -> SetDatasetBudgetResult:
        ctx = info.context
        errors: list[FieldError] = []
        eps = _cap(epsilon_cap, Decimal(0), "epsilonCap", errors, delta=False)
        delta = None if delta_cap is None else _cap(delta_cap, Decimal(0), "deltaCap", errors, delta=True)
        if _text_problem(dataset, 64):
            errors.append(FieldError(field="dataset", message="unknown dataset"))
        if errors:
            return InvalidInput(message="the dataset budget was not changed", errors=errors)
        b = await ledger.set_dataset_cap(ctx.pool, dataset, eps, delta, ctx.request_id, ctx.principal.label)
        if b is ledger.CapRefused.UNKNOWN:
            return InvalidInput(
                message="the dataset budget was not changed",
                errors=[FieldError(field="dataset", message="unknown dataset")],
            )
        if isinstance(b, ledger.CapRefused):
            now = {d.dataset: d for d in await ledger.dataset_budgets(ctx.pool)}.get(dataset)
            low = [("epsilonCap", now is None or eps < now.spent)]
            if delta is not None and now is not None:
                low.append(("deltaCap", delta < now.delta_spent))
            return InvalidInput(
                message="the dataset budget was not changed",
                errors=[
                    FieldError(field=f, message="below what has already been spent")
                    for f, is_low in low
                    if is_low
                ],
            )
        return _dataset(b)
