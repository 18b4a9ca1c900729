"""Role checks for fields: `permission_classes=[require(Role.ANALYST)]`."""

from __future__ import annotations

from functools import cache
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from privacy.principal import Role


@cache
def require(*roles: Role) -> type[BasePermission]:
    allowed = frozenset(roles)
    names = " or ".join(sorted(r.value for r in allowed))

    class _RoleRequired(BasePermission):
        message = f"requires role {names}"
        error_extensions = {"code": "FORBIDDEN"}

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            # Anonymous requests hold no role, so they are refused here too.
            return info.context.principal.role in allowed

    _RoleRequired.__name__ = f"Require_{'_'.join(sorted(r.value for r in allowed))}"
    return _RoleRequired
