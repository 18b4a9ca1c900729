# Two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint format typecheck schema bench graphiql-assets clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Start the gateway on http://127.0.0.1:8000/graphql and the job worker beside it (embedded PostgreSQL +
## demo data unless DATABASE_URL is set); Ctrl-C stops both
run: $(STAMP)
	$(BIN)/gateway serve --seed-if-empty --worker

## Run the test suite (embedded PostgreSQL, or TEST_DATABASE_URL when set)
test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy gateway resolvers privacy sql demo jobs

## Regenerate the committed GraphQL schema
schema: $(STAMP)
	$(BIN)/gateway export-schema -o schema.graphql

## Benchmarks -> docs/benchmarks.md (BENCH_ARGS="--big" adds the 1M-user DP run; see that file)
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.propensity

## Re-fetch GraphiQL's vendored assets from the npm registry and verify their pinned hashes
graphiql-assets: $(STAMP)
	$(BIN)/python scripts/vendor_graphiql.py --check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
