"""Progressive profiling over GraphQL: what the product would like to know now and why, the
stated profile, and `updateProfile`, which stores only declared fields of the stage whose
purpose is in effect, all or nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from privacy.principal import Role
from privacy.profile_fields import FIELDS, Stage, fields_for, may_be_minor
from privacy.purposes import ESSENTIAL, Source
from resolvers.account.own import account_gone, own_guard
from resolvers.common.errors import FieldError, InvalidInput
from resolvers.common.permissions import require
from resolvers.context import Context
from sql import load_queries

Q = load_queries()
MAX_FIELDS = 20


ProfileStage = Stage  # registered in the schema as ProfileStage (resolvers/common/enums.py)


@strawberry.type(description="A field the product would like now, with what it is for and what you get.")
class ProfilePrompt:
    field: str = strawberry.field(description="The field name to send in `updateProfile`.")
    why: str = strawberry.field(description="Why the product asks for it.")
    benefit: str = strawberry.field(description="What you get by giving it.")
    purpose: str = strawberry.field(description="The purpose key the field is used for.")
    data_category: str = strawberry.field(description="The field's fideslang data category.")


@strawberry.type(description="One stated profile field with where it came from and when.")
class ProfileFieldValue:
    field: str = strawberry.field(description="The field name.")
    value: str = strawberry.field(description="The value you gave.")
    data_category: str = strawberry.field(description="The field's fideslang data category.")
    purpose: str = strawberry.field(description="The purpose key the field is used for.")
    stage: str = strawberry.field(
        description=(
            "The product step it was collected at: signup, checkout, booking or personalization (lower case)."
        )
    )
    source: str = strawberry.field(description="`stated_by_user` (you gave it) or `derived`.")
    collected_at: datetime = strawberry.field(description="When it was stored (UTC).")


@strawberry.input(description="One field to store: a declared field name and its value.")
class ProfileFieldInput:
    field: str = strawberry.field(description="A field name declared for the stage (see `profilePrompts`).")
    value: str = strawberry.field(
        description="The value; checked by the field's own validator, surrounding spaces trimmed."
    )


@strawberry.type(description="The fields stored by this call.")
class ProfileUpdated:
    fields: list[ProfileFieldValue] = strawberry.field(
        description="The stored fields, as `viewer { profile }` returns them."
    )


UpdateProfileResult = Annotated[
    ProfileUpdated | InvalidInput,
    strawberry.union(
        "UpdateProfileResult",
        description=(
            "The stored fields, or InvalidInput with one error per rejected field (then nothing is stored)."
        ),
    ),
]


def field_value(row: Any) -> ProfileFieldValue:
    return ProfileFieldValue(
        field=row["field"],
        value=row["value"],
        data_category=row["data_category"],
        purpose=row["purpose"],
        stage=row["stage"],
        source=row["source"],
        collected_at=row["collected_at"],
    )


async def viewer_profile(info: Info[Context, None]) -> list[ProfileFieldValue]:
    """The user's own stated profile (access to one's own data is part of running the service)."""
    guard, user_id = await own_guard(info)
    rows = await guard.fetch(
        Q.profile_fields,
        user_id,
        purpose=ESSENTIAL,
        source=Source.STATED,
        tables=("profile_fields",),
        subject_user_id=user_id,
    )
    return [field_value(r) for r in rows]


async def viewer_profile_prompts(
    info: Info[Context, None],
    stage: Annotated[
        ProfileStage,
        strawberry.argument(
            description="The product step being shown; only fields declared for it are asked."
        ),
    ],
) -> list[ProfilePrompt]:
    """Missing fields of `stage` whose purpose is in effect; nothing is asked for a purpose the
    user has not granted, and the profile table is not read when nothing could be asked."""
    guard, user_id = await own_guard(info)
    wanted = [f for f in fields_for(Stage(stage)) if guard.allows(f.purpose, Source.STATED)]
    if not wanted:
        return []
    rows = await guard.fetch(
        Q.profile_field_names,
        user_id,
        purpose=ESSENTIAL,
        source=Source.STATED,
        tables=("profile_fields",),
        subject_user_id=user_id,
    )
    have = {r["field"] for r in rows}
    return [
        ProfilePrompt(
            field=f.name, why=f.why, benefit=f.benefit, purpose=f.purpose, data_category=f.data_category
        )
        for f in wanted
        if f.name not in have
    ]


def _errors(stage: Stage, fields: list[ProfileFieldInput], guard_allows: Any) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    if not fields:
        errors.append(FieldError(field="fields", message="give at least one field"))
    if len(fields) > MAX_FIELDS:
        errors.append(FieldError(field="fields", message=f"at most {MAX_FIELDS} fields"))
    for i, item in enumerate(fields):
        path = f"fields[{i}].field"
        declared = FIELDS.get(item.field)
        if declared is None:
            errors.append(FieldError(field=path, message="not a declared profile field", index=i))
        elif stage not in declared.stages:
            errors.append(FieldError(field=path, message=f"not asked at stage {stage.value}", index=i))
        elif item.field in seen:
            errors.append(FieldError(field=path, message="given twice", index=i))
        elif not guard_allows(declared.purpose):
            errors.append(
                FieldError(field=path, message=f"needs consent for {declared.purpose} to be stored", index=i)
            )
        elif (problem := declared.validate(item.value.strip())) is not None:
            errors.append(FieldError(field=f"fields[{i}].value", message=problem, index=i))
        seen.add(item.field)
    return errors


@strawberry.type
class ProfileMutation:
    @strawberry.mutation(
        permission_classes=[require(Role.USER)],
        description="Store declared fields of one stage; any rejected field means nothing is stored.",
    )
    async def update_profile(
        self,
        info: Info[Context, None],
        stage: Annotated[
            ProfileStage, strawberry.argument(description="The product step the fields are collected at.")
        ],
        fields: Annotated[
            list[ProfileFieldInput],
            strawberry.argument(
                description=(
                    "The fields to store; each must be declared for the stage and its purpose consented."
                )
            ),
        ],
    ) -> UpdateProfileResult:
        guard, user_id = await own_guard(info)
        the_stage = Stage(stage)
        errors = _errors(the_stage, fields, lambda purpose: guard.allows(purpose, Source.STATED))
        if errors:
            return InvalidInput(message="profile not changed", errors=errors)
        declared = [FIELDS[f.field] for f in fields]
        values = [f.value.strip() for f in fields]
        stated = dict(zip((d.name for d in declared), values, strict=True))
        years = stated.get("birth_year_range")  # the account keeps the coarse range and the minor flag
        rows = await guard.write(
            Q.upsert_profile_fields,
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=("profile_fields", "users") if years is not None else ("profile_fields",),
            subject_user_id=user_id,
            fields=[d.name for d in declared],
            values=values,
            categories=[d.data_category for d in declared],
            purposes=[d.purpose for d in declared],
            stage=the_stage.value,
            birth_year_range=years,
            minor=years is not None and may_be_minor(years),
        )
        if not rows:
            raise account_gone()
        return ProfileUpdated(fields=[field_value(r) for r in rows])
