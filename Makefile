# Ironlog: `make run` starts everything, `make test` runs the whole suite.
# Both create .venv and install the project with its dev extra on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test lint typecheck imports format clean

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
	$(BIN)/pytest

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache

# Benchmarks (results go in BENCHMARKS.md). They use DATABASE_URL / REDIS_URL, by default the local
# servers on 5432 and 6379, in a database and Redis prefix of their own that they remove afterwards.
# BENCH_IMPORT_ARGS passes options, e.g. `make bench-import BENCH_IMPORT_ARGS="--rows 5000"`.
.PHONY: bench bench-import

bench: bench-import

bench-import: $(INSTALLED)
	PYTHONPATH=. $(BIN)/python ops/bench/import_speed.py $(BENCH_IMPORT_ARGS)
