"""Who is asking: the verified identity behind a request (built by gateway.auth from a JWT)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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

    @property
    def is_anonymous(self) -> bool:
        return self.role is Role.ANONYMOUS

    @property
    def user_id(self) -> int | None:
        """The user id for role `user`; None for every other role."""
        if self.role is not Role.USER or self.subject is None:
            return None
        return int(self.subject)

    @property
    def label(self) -> str:
        return f"{self.role.value}:{self.subject}" if self.subject else self.role.value


ANONYMOUS = Principal(Role.ANONYMOUS)
