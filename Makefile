# The two commands of the README: `make run` (the main job) and `make test` (the whole suite, as CI runs it).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint format check bench chaos clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## run: embedded Temporal dev server (Web UI :8233) + worker + a demo plan
run: install
	$(BIN)/coach run

## lint: ruff, mypy and the import layers (import-linter), no changes
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## format: apply ruff's fixes and formatting
format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## test: lint, then every test tier (domain, SQLite, PostgreSQL, time-skipping Temporal, dev server)
test: lint
	$(BIN)/pytest

## bench: time the nightly cadence recompute on 100,000 synthetic athletes in PostgreSQL (bench/README.md)
bench: install
	$(BIN)/python bench/cadence_recompute.py

## chaos: the fault suite, 5 rounds of each fault on 200 plans (dev server, throwaway PostgreSQL, FCM fake; bench/README.md)
chaos: install
	$(BIN)/python bench/chaos.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
