# Charter: `make demo` and `make test` set everything up from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# The MLflow client for the tests and benchmarks that drive Charter with it: its own
# environment, since mlflow's pins (pyarrow<26, cachetools<8) clash with Charter's.
MLFLOW_VENV := .venv-mlflow
MLFLOW_PINS := mlflow==3.17.2 scikit-learn==1.9.1 pandas==3.1.1 skops==0.16.0

.PHONY: setup mlflow-client demo test test-sqlite test-postgres lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

mlflow-client: $(MLFLOW_VENV)/.installed

$(MLFLOW_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/pip install --quiet --upgrade pip
	$(MLFLOW_VENV)/bin/pip install --quiet $(MLFLOW_PINS)
	touch $@

demo: setup
	$(BIN)/python -m charter.demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/python -m tests.architecture

# Three workers on two cores: many tests wait on a server or client process of their own.
test-sqlite: setup mlflow-client
	$(BIN)/pytest -q -n 3 -p no:cacheprovider

# On PostgreSQL, every test but those of the interface layers that reach the database only
# through the same services (the CLI, the SDK and the MLflow adapter: run on SQLite above);
# the MLflow adapter's attacks run here too, for the races only PostgreSQL has.
test-postgres: setup mlflow-client
	CHARTER_TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest -q -n 3 -p no:cacheprovider \
		--ignore=tests/cli --ignore=tests/mlflow/test_bad_input.py \
		--ignore=tests/mlflow/test_client.py --ignore=tests/mlflow/test_errors.py \
		--ignore=tests/sdk/test_client.py --ignore=tests/sdk/test_server_url.py

test: lint test-sqlite test-postgres

bench: setup mlflow-client
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(MLFLOW_VENV) .pytest_cache .ruff_cache .demo-home .bench-env
