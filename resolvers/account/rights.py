"""The user's data rights over GraphQL: export (Art. 15/20) and erasure (Art. 17)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from privacy.erasure import erase
from privacy.export import build_export
from privacy.guard import ConsentRequired, Guard
from privacy.principal import Role
from resolvers.account.inferences import describe_inferences
from resolvers.account.own import account_gone, own_guard
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.permissions import require
from resolvers.config import DomainConfig
from resolvers.context import Context


async def inferences_for_export(guard: Guard, user_id: int, config: DomainConfig) -> list[dict[str, Any]]:
    """The derived tags and segments about the user, with the logic that produced them."""
    try:
        return await describe_inferences(guard, user_id, config)
    except ConsentRequired:
        return []  # nothing may be inferred without the purpose, so there is nothing to describe


@strawberry.type(description="A machine-readable copy of your data (JSON); lists are bounded, with totals.")
class DataExport:
    format: str = strawberry.field(description="Name and version of the bundle's format.")
    generated_at: datetime = strawberry.field(description="When the bundle was made (UTC).")
    data: JSON = strawberry.field(
        description=(
            "The bundle (camelCase keys): format, generatedAt, subject, limits, retention, "
            "account, profile, consent (state and receipts), channels, controls, inferences "
            "with their logic, decisions, frequencyCounters, messages, events, signals, "
            "categoryStats, readsOfYourData (the audit of reads). Long lists are bounded and "
            "carry their totals."
        )
    )


@strawberry.type(description="Your data was erased; only this record without personal data is kept.")
class ErasureDone:
    erasure_id: strawberry.ID = strawberry.field(
        description="Id of the erasure record kept as proof (it holds no personal data)."
    )
    rows_deleted: int = strawberry.field(description="How many rows were deleted in all.")
    tables: list[str] = strawberry.field(description="The tables rows were deleted from.")


EraseResult = Annotated[
    ErasureDone | InvalidInput,
    strawberry.union(
        "EraseResult", description="The erasure record, or InvalidInput when `confirm` was not true."
    ),
]


@strawberry.type
class RightsMutation:
    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description="Everything kept about you as one JSON bundle (GDPR Art. 15 and 20).",
    )
    async def request_data_export(self, info: Info[Context, None]) -> DataExport:
        guard, user_id = await own_guard(info)
        config = info.context.config
        bundle = await build_export(
            guard, user_id, await inferences_for_export(guard, user_id, config), config.retention
        )
        return DataExport(
            format=bundle["format"],
            generated_at=datetime.fromisoformat(bundle["generatedAt"]),
            data=bundle,  # type: ignore[arg-type]  # JSON is a scalar alias of Any
        )

    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description="Delete everything about you (GDPR Art. 17), in one transaction. Pass confirm: true.",
    )
    async def erase_my_data(
        self,
        info: Info[Context, None],
        confirm: Annotated[
            bool, strawberry.argument(description="Must be true; anything else erases nothing.")
        ],
    ) -> EraseResult:
        guard, user_id = await own_guard(info)
        if not confirm:
            return InvalidInput(
                message="nothing erased",
                errors=[FieldError(field="confirm", message="must be true to erase your data")],
            )
        done = await erase(guard, user_id)
        # Nothing written after this operation may name the erased user again.
        info.context.forget(user_id)
        if done is None:
            raise account_gone()
        return ErasureDone(
            erasure_id=strawberry.ID(done.erasure_id),
            rows_deleted=done.rows_deleted,
            tables=list(done.tables),
        )
