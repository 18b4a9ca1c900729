"""Settings: read from the environment once (prefix GATEWAY_, plus DATABASE_URL) and passed in.

Tests build their own `Settings(...)` instead of patching the environment.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs.config import JobsConfig
from resolvers.config import DomainConfig

DEV_SECRET_FILE = "jwt-dev-secret"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    # No DATABASE_URL: the gateway starts an embedded PostgreSQL in data_dir/pg.
    database_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "GATEWAY_DATABASE_URL")
    )
    data_dir: Path = Path(".data")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)

    # Auth. Development: HS256 with a secret (generated into data_dir when absent).
    # Production: RS256 with a public key; a shared secret is refused.
    jwt_secret: SecretStr | None = None
    jwt_public_key: str | None = None
    jwt_public_key_file: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_s: int = Field(default=30, ge=0, le=300)

    # 0: a database that is down at start does not stop the process; connections open on demand.
    pool_min_size: int = Field(default=0, ge=0, le=100)
    pool_max_size: int = Field(default=10, ge=1, le=200)
    statement_timeout_ms: int = Field(default=5000, ge=100, le=600_000)

    # Shared rate limits: with a Redis URL every worker of every host counts in one place
    # (gateway/ratelimit.py); without one each worker enforces its share. `redis_prefix`
    # separates deployments that share a Redis.
    redis_url: SecretStr | None = None
    redis_prefix: str = Field(default="gateway", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")

    # None: on in development, off in production.
    graphiql: bool | None = None
    # Accept only registered documents (gateway/documents/*.graphql) at POST/GET /graphql.
    persisted_only: bool = False
    # More trusted documents (*.graphql), e.g. the persisted-query manifest of a client app,
    # served beside gateway/documents by their sha256 (Apollo's persisted-query protocol).
    documents_dir: Path | None = None
    # Apollo's automatic persisted queries: may a client register a new document at run time
    # (its hash and text sent together)? None: yes outside production. Never in production or
    # with persisted_only, where only the trusted documents are accepted.
    persisted_registration: bool | None = None

    domain: DomainConfig = DomainConfig()
    # The worker (`gateway worker`): schedules, retries, delivery sinks; see jobs/config.py.
    jobs: JobsConfig = JobsConfig()

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError("pool_min_size must not exceed pool_max_size")
        if self.jwt_public_key and self.jwt_public_key_file:
            raise ValueError("set jwt_public_key or jwt_public_key_file, not both")
        if self.jwt_secret is not None and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("jwt_secret must be at least 32 characters")
        if self.environment is Environment.PRODUCTION:
            if self.jwt_secret is not None:
                raise ValueError(
                    "production refuses a shared HS256 secret: configure jwt_public_key (RS256) instead"
                )
            if not (self.jwt_public_key or self.jwt_public_key_file):
                raise ValueError("production needs jwt_public_key or jwt_public_key_file (RS256)")
            if self.graphiql:
                raise ValueError("GraphiQL cannot be enabled in production")
            if self.persisted_registration:
                raise ValueError("production accepts only trusted documents: persisted_registration is off")
            self.jobs.check_production()
        if self.persisted_only and self.persisted_registration:
            raise ValueError("persisted_only accepts only trusted documents: persisted_registration is off")
        return self

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def graphiql_enabled(self) -> bool:
        return (not self.is_production) if self.graphiql is None else self.graphiql

    @property
    def persisted_registration_enabled(self) -> bool:
        if self.is_production or self.persisted_only:
            return False
        return True if self.persisted_registration is None else self.persisted_registration

    def public_key(self) -> str | None:
        if self.jwt_public_key_file is not None:
            return self.jwt_public_key_file.read_text()
        return self.jwt_public_key

    def signing_secret(self) -> str:
        """The HS256 secret: configured, or generated once into the data folder (development)."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        if self.is_production:
            raise RuntimeError("production uses RS256; there is no shared secret")
        path = self.data_dir / DEV_SECRET_FILE
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()
