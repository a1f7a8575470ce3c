# Ironlog: `make run` starts everything, `make test` runs the whole suite.
# Both create .venv and install the project with its dev extra on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test test-calendar test-faults lint typecheck imports format clean

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
	$(BIN)/hadolint Dockerfile ops/postgres/Dockerfile

typecheck: $(INSTALLED)
	$(BIN)/mypy

imports: $(INSTALLED)
	$(BIN)/lint-imports

# Suites with targets of their own (tests/faults, tests/restore, tests/upgrade, tests/replica) stay out
# of `make test`.
OWN_TARGETS := --ignore=tests/faults --ignore=tests/restore --ignore=tests/upgrade --ignore=tests/replica

test: lint typecheck imports
	$(BIN)/pytest $(OWN_TARGETS)

# The suite on another day (tests/clocks.py): the product's clock, in every process the tests start,
# runs as if it were IRONLOG_TEST_CLOCK: `+40d`, `+400d` or an instant. By default the run starts two
# minutes before this year's New Year, so it crosses midnight, a new ISO week and a new year.
IRONLOG_TEST_CLOCK ?= $(shell date -u +%Y)-12-31T23:58:00Z
test-calendar: $(INSTALLED)
	IRONLOG_TEST_CLOCK=$(IRONLOG_TEST_CLOCK) $(BIN)/pytest $(OWN_TARGETS)

# Faults injected for real on private servers (tests/faults): outages, a frozen worker, a soak.
test-faults: $(INSTALLED)
	$(BIN)/pytest tests/faults --ignore=tests/faults/test_rabbitmq.py

# Recovery (docs/operations.md, "Backup and restore"; RELIABILITY.md): the point-in-time restore drill
# with pgBackRest on a PostgreSQL of its own, and the upgrade from the release in ops/previous-release.
# Both start servers from the machine's PostgreSQL binaries (pg_config --bindir); test-restore installs
# Debian's pgbackrest when it is missing and this is root, and otherwise says what to install.
.PHONY: test-restore test-upgrade recovery-tools

recovery-tools:
	@command -v pg_config >/dev/null 2>&1 && test -x "$$(pg_config --bindir)/initdb" || { \
	  echo "PostgreSQL's server binaries are missing (pg_config --bindir): apt-get install postgresql" >&2; exit 1; }
	@command -v pgbackrest >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing pgbackrest (Debian package)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbackrest >/dev/null; \
	  else echo "pgBackRest is missing: sudo apt-get install pgbackrest" >&2; exit 1; fi; }

test-restore: $(INSTALLED) recovery-tools
	$(BIN)/pytest tests/restore -s

test-upgrade: $(INSTALLED) recovery-tools
	$(BIN)/pytest tests/upgrade

# Streaming replicas and a primary failover (docs/operations.md, "Read replicas and failover"): a primary
# and standbys of the test's own from the machine's PostgreSQL binaries, on loopback.
.PHONY: test-replica
test-replica: $(INSTALLED)
	@command -v pg_config >/dev/null 2>&1 && test -x "$$(pg_config --bindir)/pg_basebackup" || { \
	  echo "PostgreSQL's server binaries are missing (pg_config --bindir): apt-get install postgresql" >&2; exit 1; }
	$(BIN)/pytest tests/replica

# The suites that touch the broker, again with RabbitMQ as the broker (docs/operations.md, "The broker"):
# the machine's RabbitMQ, queues named after the run's prefix and deleted afterwards.
RABBITMQ_URL ?= amqp://guest:guest@127.0.0.1:5672/%2F
RABBITMQ_ANSWERS = $(BIN)/python -c "import pika, sys; pika.BlockingConnection(pika.URLParameters(sys.argv[1])).close()" \
  '$(RABBITMQ_URL)' 2>/dev/null
BROKER_SUITES := tests/test_worker_e2e.py tests/test_read_your_writes.py tests/test_pipeline_faults.py \
  tests/test_parking.py tests/test_stream.py tests/test_rebuild.py tests/test_imports.py \
  tests/test_erasure.py tests/test_pipeline_metrics.py tests/test_observability.py tests/test_health.py \
  tests/faults/test_rabbitmq.py
.PHONY: test-rabbitmq
test-rabbitmq: $(INSTALLED)
	@$(RABBITMQ_ANSWERS) || { \
	  echo "RabbitMQ does not answer at $(RABBITMQ_URL): start it (apt-get install rabbitmq-server) or set RABBITMQ_URL" >&2; exit 1; }
	BROKER_URL='$(RABBITMQ_URL)' IRONLOG_TEST_RABBITMQ_URL='$(RABBITMQ_URL)' $(BIN)/pytest $(BROKER_SUITES)

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache

# Benchmarks (results go in BENCHMARKS.md). They use DATABASE_URL / REDIS_URL, by default the local
# servers on 5432 and 6379, in a database and Redis prefix of their own that they remove afterwards,
# and start (and stop) the API and projection worker processes they measure. `bench` is the full run
# (about 11 minutes), `bench-quick` a small one (about 3 minutes); the report is printed and
# written to .bench/latest.md. BENCH_ARGS / BENCH_IMPORT_ARGS pass options, e.g.
# `make bench BENCH_ARGS="--profile"` or `make bench-import BENCH_IMPORT_ARGS="--rows 5000"`.
# The load benchmark also measures two baselines in the same run: bare Litestar, and the seed's stack
# (Express, ops/bench/seed_stack), whose exact versions npm installs there, with no lock file.
.PHONY: bench bench-quick bench-load bench-import bench-memory bench-batch bench-replica bench-consistency bench-deps

SEED_STACK := ops/bench/seed_stack
SEED_STACK_DEPS := $(SEED_STACK)/node_modules/.installed

$(SEED_STACK_DEPS): $(SEED_STACK)/package.json
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
	  echo "Node.js and npm are needed for the seed-stack baseline: apt-get install nodejs npm" >&2; exit 1; }
	cd $(SEED_STACK) && npm install --no-package-lock --no-audit --no-fund --omit=dev
	touch $@

bench-deps: $(SEED_STACK_DEPS)

bench: bench-load bench-import

# The benchmarks that start a worker measure production's broker: RabbitMQ at RABBITMQ_URL when it
# answers, otherwise Dramatiq's Redis broker (the load benchmark's report names the one it used).
# BROKER_URL=… chooses.
BENCH_BROKER = $(or $(BROKER_URL),$(shell $(RABBITMQ_ANSWERS) && echo '$(RABBITMQ_URL)'))

bench-load: $(INSTALLED) $(SEED_STACK_DEPS)
	BROKER_URL='$(BENCH_BROKER)' PYTHONPATH=. $(BIN)/python ops/bench/run.py $(BENCH_ARGS)

bench-quick: $(INSTALLED) $(SEED_STACK_DEPS)
	BROKER_URL='$(BENCH_BROKER)' PYTHONPATH=. $(BIN)/python ops/bench/run.py --quick $(BENCH_ARGS)

# Bytes per user: Redis after a seeded history is projected and after a rebuild, every Postgres table
# and index (ops/bench/memory.py; about 10 minutes at the default 400 users and 12 months).
bench-memory: $(INSTALLED)
	PYTHONPATH=. $(BIN)/python ops/bench/memory.py $(BENCH_MEMORY_ARGS)

# What one new workout costs the projection, by the length of the user's history (BENCHMARKS.md).
bench-batch: $(INSTALLED)
	PYTHONPATH=. $(BIN)/python ops/bench/batch.py $(BENCH_BATCH_ARGS)

# The mobile mix at one rate against Postgres alone, with an asynchronous and with a synchronous
# streaming replica of its own on loopback (ops/bench/replica.py; about 4 minutes).
bench-replica: $(INSTALLED)
	@command -v pg_config >/dev/null 2>&1 && test -x "$$(pg_config --bindir)/pg_basebackup" || { \
	  echo "PostgreSQL's server binaries are missing (pg_config --bindir): apt-get install postgresql" >&2; exit 1; }
	BROKER_URL='$(BENCH_BROKER)' PYTHONPATH=. $(BIN)/python ops/bench/replica.py $(BENCH_REPLICA_ARGS)

# A token read right after a write, with the Redis broker and with RabbitMQ (RABBITMQ_URL), one writer
# and eight (ops/bench/consistency.py; about 2 minutes).
bench-consistency: $(INSTALLED)
	PYTHONPATH=. $(BIN)/python ops/bench/consistency.py --rabbitmq '$(RABBITMQ_URL)' $(BENCH_CONSISTENCY_ARGS)

bench-import: $(INSTALLED)
	PYTHONPATH=. $(BIN)/python ops/bench/import_speed.py $(BENCH_IMPORT_ARGS)

# Request overhead of the working tree against a base revision (BASE, default main), measured in
# alternation with each server's CPU time per request (ops/bench/compare.py; a few minutes).
BASE ?= main
.PHONY: bench-compare
bench-compare: $(INSTALLED)
	PYTHONPATH=. $(BIN)/python ops/bench/compare.py --base $(BASE) $(BENCH_COMPARE_ARGS)

# TypeScript client of the mobile app (clients/typescript/README.md). `client` regenerates the
# committed openapi.json and src/schema.ts from the app and typechecks; `client-check` (CI) fails
# when they are stale. npm installs the exact versions in package.json and writes no lock file.
.PHONY: client client-check client-deps client-build client-test

CLIENT := clients/typescript
CLIENT_DEPS := $(CLIENT)/node_modules/.installed
# openapi-typescript through its API (scripts/generate.mjs): --default-non-nullable false, and the branded
# DateTime and Uuid of src/brands.ts for strings of format date-time and uuid.
OPENAPI_TS := node $(CLIENT)/scripts/generate.mjs

$(CLIENT_DEPS): $(CLIENT)/package.json
	cd $(CLIENT) && npm install --no-package-lock --no-audit --no-fund
	touch $@

client-deps: $(CLIENT_DEPS)

client: $(INSTALLED) $(CLIENT_DEPS)
	$(BIN)/python $(CLIENT)/dump_schema.py $(CLIENT)/openapi.json
	$(OPENAPI_TS) $(CLIENT)/openapi.json $(CLIENT)/src/schema.ts
	cd $(CLIENT) && node_modules/.bin/tsc --noEmit -p .

client-check: $(INSTALLED) $(CLIENT_DEPS)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(BIN)/python $(CLIENT)/dump_schema.py "$$tmp/openapi.json"; \
	$(OPENAPI_TS) "$$tmp/openapi.json" "$$tmp/schema.ts"; \
	if ! diff -u $(CLIENT)/openapi.json "$$tmp/openapi.json" || ! diff -u $(CLIENT)/src/schema.ts "$$tmp/schema.ts"; \
	then echo "$(CLIENT) is stale: run 'make client' and commit the result" >&2; exit 1; fi; \
	echo "$(CLIENT): openapi.json and src/schema.ts are up to date"
	cd $(CLIENT) && node_modules/.bin/tsc --noEmit -p .

# The package apps install (clients/typescript/dist: ESM and CommonJS, with types), built by the pinned tsc.
client-build: $(CLIENT_DEPS)
	cd $(CLIENT) && npm run --silent build

# The client against a live stack (clients/typescript/test): the npm pack output imported as ESM and
# CommonJS, then `ironlog api` and `ironlog worker` on a database and Redis prefix of their own, and
# node's test runner driving the client through them; everything is removed afterwards.
client-test: $(INSTALLED) $(CLIENT_DEPS)
	$(CLIENT)/test/pack.sh
	cd $(CLIENT) && rm -rf .build && node_modules/.bin/tsc -p tsconfig.test.json && node --test --test-timeout=60000 .build/test/sse.test.js .build/test/brands.test.js .build/test/client.test.js
	PYTHONPATH=. $(BIN)/python $(CLIENT)/test/stack.py

# Schema fuzzing (tests/fuzz; at most 10 minutes, docs/architecture.md#tests-and-their-budgets):
# Schemathesis against the app's own OpenAPI schema, every default check, signed in; a database and
# Redis prefix of its own, as the tests have.
.PHONY: fuzz

fuzz: $(INSTALLED)
	$(BIN)/pytest tests/fuzz -m fuzz

# Coverage-guided fuzzing (atheris) of the parsers that read untrusted bytes: the Strong/Hevy CSV
# import, list cursors, X-Consistency-Token and If-Match / If-None-Match (tests/fuzzing).
# FUZZ_SECONDS per target: 30 in CI;
# the longer run RELIABILITY.md describes is `make fuzz-parsers FUZZ_SECONDS=1800`. Each target's
# output goes to .fuzz/TARGET.log; a crash fails the run with the input under .fuzz/crashes/TARGET/.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := import_csv cursor consistency_token conditional_headers
.PHONY: fuzz-parsers

fuzz-parsers: $(INSTALLED)
	@mkdir -p .fuzz
	@set -e; for target in $(FUZZ_TARGETS); do \
	  echo "== fuzzing $$target for $(FUZZ_SECONDS) s"; \
	  if ! $(BIN)/python -m tests.fuzzing $$target -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	      > .fuzz/$$target.log 2>&1; then tail -n 60 .fuzz/$$target.log; exit 1; fi; \
	  grep -E "^(#[0-9]+\s+DONE|Done|stat::number_of_executed_units)" .fuzz/$$target.log; \
	done
