# Charter: `make demo` and `make test` set everything up from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: setup demo test test-sqlite test-postgres lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/python -m charter.demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/python -m tests.architecture

test-sqlite: setup
	$(BIN)/pytest -q -n 2 -p no:cacheprovider

test-postgres: setup
	CHARTER_TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest -q -n 2 -p no:cacheprovider

test: lint test-sqlite test-postgres

bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .demo-home .bench-env
