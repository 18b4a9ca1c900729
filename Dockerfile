# syntax=docker/dockerfile:1
# Personalization gateway: a multi-stage build; the runtime image holds only the virtualenv.
#
# The image needs from its environment (see docs/docker.md):
#   DATABASE_URL                postgresql://user:password@host:5432/db (required: no embedded server here)
#   GATEWAY_ENVIRONMENT         production (default in this image) | development | test
#   GATEWAY_JWT_PUBLIC_KEY      PEM of the RS256 public key that verifies tokens (production), or
#   GATEWAY_JWT_PUBLIC_KEY_FILE path to that PEM (e.g. a mounted secret)
#   GATEWAY_JWT_ISSUER / GATEWAY_JWT_AUDIENCE   optional claims to require
#   GATEWAY_JWT_SECRET          HS256 secret, 32+ characters: development only, refused in production
#   GATEWAY_WORKERS, GATEWAY_PORT, GATEWAY_POOL_MAX_SIZE, GATEWAY_STATEMENT_TIMEOUT_MS   tuning

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY gateway ./gateway
COPY resolvers ./resolvers
COPY privacy ./privacy
COPY sql ./sql
COPY demo ./demo
COPY jobs ./jobs
# Runtime dependencies only (no [dev] extra), at the versions pinned in constraints.txt.
RUN /opt/venv/bin/pip install -c constraints.txt . \
    && /opt/venv/bin/pip check

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /var/lib/gateway --create-home gateway
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GATEWAY_ENVIRONMENT=production \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8000 \
    GATEWAY_DATA_DIR=/var/lib/gateway
USER gateway
WORKDIR /var/lib/gateway
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('GATEWAY_PORT', '8000'), timeout=2)"
# Migrations are an explicit step (under an advisory lock, so replicas starting together are
# safe), then the server replaces the shell so it receives SIGTERM directly.
CMD ["sh", "-c", "gateway migrate && exec gateway serve --no-migrate"]
