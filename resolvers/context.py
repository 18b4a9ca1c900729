"""The per-request context handed to every resolver: who asks, the pool, the user model.

The user model (and with it the consent snapshot and the guard) is loaded at most once per
operation, on first use, so a request that reads no personal data costs no query."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from privacy.guard import DecisionRow, Guard
from privacy.i18n import DEFAULT, Language
from privacy.principal import Principal
from resolvers.config import DomainConfig
from resolvers.explain.record import DecisionRecord
from resolvers.model.catalog import Catalog
from resolvers.model.reference import REFERENCE, ReferenceKind, T
from resolvers.model.reference import catalog as load_catalog
from resolvers.model.user import UserModel


@dataclass
class Context:
    pool: asyncpg.Pool
    principal: Principal
    request_id: str
    config: DomainConfig
    gpc: bool = False
    # The request's Accept-Language (negotiated); the person's stored choice wins over it.
    accept_language: Language | None = None
    # Set by setLanguage in this operation (the model read before it holds the old choice).
    language_choice: Language | None = None
    request: Any = None
    response: Any = None
    # Per-request memo for decisions shared by several fields; never shared between requests.
    memo: dict[str, Any] = field(default_factory=dict)
    # Decision records produced by this operation; written to the decision log at close.
    decisions: list[DecisionRecord] = field(default_factory=list)
    _model: asyncio.Future[UserModel] | None = None

    async def model(self) -> UserModel:
        """The operation's user model (account and consent read on first use, once)."""
        if self._model is None:
            self._model = asyncio.ensure_future(
                UserModel.load(
                    self.pool,
                    self.principal,
                    self.request_id,
                    self.gpc,
                    reference_ttl_s=self.config.model.reference_ttl_s,
                )
            )
        return await asyncio.shield(self._model)

    @property
    def language(self) -> Language:
        """The language this answer is rendered in: the person's stored choice (known once the
        model is loaded, which every personal field does first), else Accept-Language, else
        English. Rendering is synchronous, so it never triggers a read itself."""
        if self.language_choice is not None:
            return self.language_choice
        if _loaded(self._model):
            assert self._model is not None
            account = self._model.result().account
            if account is not None and account.language is not None:
                return account.language
        return self.accept_language or DEFAULT

    async def settled_language(self) -> Language:
        """The language, after loading the signed-in person's model (their stored choice)."""
        if self.principal.user_id is not None:
            # an error loading it is reported by the field that needs the model, not here
            with contextlib.suppress(Exception):
                await self.model()
        return self.language

    async def guard(self) -> Guard:
        return (await self.model()).guard

    async def catalog(self) -> Catalog:
        return await load_catalog(self.pool, self.config.model.reference_ttl_s)

    async def reference(self, kind: ReferenceKind[T]) -> T:
        return await REFERENCE.get(self.pool, kind, self.config.model.reference_ttl_s)

    def log_decisions(self, records: list[DecisionRecord]) -> None:
        """Keep records for the decision log; only signed-in, known users have one."""
        self.decisions.extend(records)

    async def close(self) -> None:
        """End of the operation: write the audit entries and the decision log, in one round trip."""
        if not _loaded(self._model):
            return
        assert self._model is not None
        model = self._model.result()
        records, self.decisions = self.decisions, []
        rows = [r.to_row() for r in records] if model.user_id is not None else []
        await model.guard.flush(rows)

    def forget(self, user_id: int) -> None:
        """The user was erased by this operation: nothing written after it may name them."""
        self.decisions.clear()
        if _loaded(self._model):
            assert self._model is not None
            self._model.result().guard.forget_subject(user_id)


def _loaded(model: asyncio.Future[UserModel] | None) -> bool:
    return model is not None and model.done() and not model.cancelled() and model.exception() is None


__all__ = ["Context", "DecisionRow"]
