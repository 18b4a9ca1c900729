"""Who is asking: the verified identity behind a request (built by gateway.auth from a JWT).

A user's subject is their user id written one way only: ASCII decimal, no sign, no leading zero,
1 to 2^63-1 (`parse_user_id`). `01`, `+1`, ` 1`, `\u0661` (an Arabic-Indic digit one) or `²` all read as 1
to Python's int(), and would otherwise be a second identity for user 1 (their own rate-limit
bucket, their own audit trail). Other roles' subjects are labels: 1-128 printable characters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_USER_ID = 2**63 - 1  # PostgreSQL bigint
MAX_SUBJECT_CHARS = 128
_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,18}")


def parse_user_id(text: str) -> int | None:
    """The id `text` names in canonical form, or None (see the module doc)."""
    if not _CANONICAL_ID.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_USER_ID else None


class InvalidSubject(ValueError):
    """A subject no principal may have; the message is safe to show."""


class Role(StrEnum):
    ANONYMOUS = "anonymous"
    USER = "user"
    APP = "app"  # a first-party app or backend sending events on behalf of users
    ANALYST = "analyst"
    MARKETER = "marketer"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    subject: str | None = None

    def __post_init__(self) -> None:
        if self.role is Role.ANONYMOUS:
            if self.subject is not None:
                raise InvalidSubject("an anonymous principal has no subject")
            return
        if self.subject is None or not 1 <= len(self.subject) <= MAX_SUBJECT_CHARS:
            raise InvalidSubject(f"a subject must be 1-{MAX_SUBJECT_CHARS} characters")
        if not self.subject.isprintable():
            raise InvalidSubject("a subject must be printable characters")
        if self.role is Role.USER and parse_user_id(self.subject) is None:
            raise InvalidSubject(
                "a user's subject must be a positive integer user id, in digits 0-9 without a leading zero"
            )

    @property
    def is_anonymous(self) -> bool:
        return self.role is Role.ANONYMOUS

    @property
    def user_id(self) -> int | None:
        """The user id for role `user`; None for every other role."""
        if self.role is not Role.USER or self.subject is None:
            return None
        return int(self.subject)  # canonical: checked in __post_init__

    @property
    def label(self) -> str:
        return f"{self.role.value}:{self.subject}" if self.subject else self.role.value


ANONYMOUS = Principal(Role.ANONYMOUS)
