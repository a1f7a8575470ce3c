# Ironlog: `make run` starts everything, `make test` runs the whole suite.
# Both create .venv and install the project with its dev extra on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test test-faults lint typecheck imports format clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(INSTALLED)

install: $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/ironlog run

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

typecheck: $(INSTALLED)
	$(BIN)/mypy

imports: $(INSTALLED)
	$(BIN)/lint-imports

test: lint typecheck imports
	$(BIN)/pytest --ignore=tests/faults

# Faults injected for real on private servers (tests/faults): outages, a frozen worker, a soak.
test-faults: $(INSTALLED)
	$(BIN)/pytest tests/faults

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache

# Benchmarks (results go in BENCHMARKS.md). They use DATABASE_URL / REDIS_URL, by default the local
# servers on 5432 and 6379, in a database and Redis prefix of their own that they remove afterwards,
# and start (and stop) the API and projection worker processes they measure. `bench` is the full run
# (at most 10 minutes), `bench-quick` a small one (at most 2 minutes); the report is printed and
# written to .bench/latest.md. BENCH_ARGS / BENCH_IMPORT_ARGS pass options, e.g.
# `make bench BENCH_ARGS="--profile"` or `make bench-import BENCH_IMPORT_ARGS="--rows 5000"`.
.PHONY: bench bench-quick bench-load bench-import

bench: bench-load bench-import

bench-load: $(INSTALLED)
	PYTHONPATH=. $(BIN)/python ops/bench/run.py $(BENCH_ARGS)

bench-quick: $(INSTALLED)
	PYTHONPATH=. $(BIN)/python ops/bench/run.py --quick $(BENCH_ARGS)

bench-import: $(INSTALLED)
	PYTHONPATH=. $(BIN)/python ops/bench/import_speed.py $(BENCH_IMPORT_ARGS)

# TypeScript client of the mobile app (clients/typescript/README.md). `client` regenerates the
# committed openapi.json and src/schema.ts from the app and typechecks; `client-check` (CI) fails
# when they are stale. npm installs the exact versions in package.json and writes no lock file.
.PHONY: client client-check client-deps

CLIENT := clients/typescript
CLIENT_DEPS := $(CLIENT)/node_modules/.installed
OPENAPI_TS := $(CLIENT)/node_modules/.bin/openapi-typescript --default-non-nullable false

$(CLIENT_DEPS): $(CLIENT)/package.json
	cd $(CLIENT) && npm install --no-package-lock --no-audit --no-fund
	touch $@

client-deps: $(CLIENT_DEPS)

client: $(INSTALLED) $(CLIENT_DEPS)
	$(BIN)/python $(CLIENT)/dump_schema.py $(CLIENT)/openapi.json
	$(OPENAPI_TS) $(CLIENT)/openapi.json --output $(CLIENT)/src/schema.ts
	cd $(CLIENT) && node_modules/.bin/tsc --noEmit -p .

client-check: $(INSTALLED) $(CLIENT_DEPS)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(BIN)/python $(CLIENT)/dump_schema.py "$$tmp/openapi.json"; \
	$(OPENAPI_TS) "$$tmp/openapi.json" --output "$$tmp/schema.ts" >/dev/null; \
	if ! diff -u $(CLIENT)/openapi.json "$$tmp/openapi.json" || ! diff -u $(CLIENT)/src/schema.ts "$$tmp/schema.ts"; \
	then echo "$(CLIENT) is stale: run 'make client' and commit the result" >&2; exit 1; fi; \
	echo "$(CLIENT): openapi.json and src/schema.ts are up to date"
	cd $(CLIENT) && node_modules/.bin/tsc --noEmit -p .

# Schema fuzzing (tests/fuzz, DESIGN.md §8: at most 10 minutes): Schemathesis against the app's own OpenAPI
# schema, every default check, signed in; a database and Redis prefix of its own, as the tests have.
.PHONY: fuzz

fuzz: $(INSTALLED)
	$(BIN)/pytest tests/fuzz -m fuzz
