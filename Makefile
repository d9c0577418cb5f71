# composer-observability: every entry point a user or CI needs.
# `make demo` and `make test` work on a fresh machine that has Python 3.11 and pip.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
AIRFLOW2_VERSION ?= 2.10.5
AIRFLOW3_VERSION ?= 3.3.2
AIRFLOW2_VENV := .venvs/airflow-$(AIRFLOW2_VERSION)
AIRFLOW3_VENV := .venvs/airflow-$(AIRFLOW3_VERSION)

.PHONY: setup airflow-envs demo test alert-tests lint bench emulator provision-metrics clean

# The project's own environment: the package, editable, with every extra the tools use.
$(BIN)/composer-obs: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv
	VIRTUAL_ENV=$(VENV) $(UV) pip install -q --compile-bytecode -e '.[dev]'
	touch $@

setup: $(BIN)/composer-obs

# One virtual environment per supported Airflow line, each with this package installed
# editable, so that the tests run `airflow dags test` and a real scheduler on the real thing.
# PostgreSQL drivers: psycopg2 (Airflow's metadata database) and asyncpg (Airflow 3's async
# sessions), for the real-scheduler tests (tests/support/airflow_cluster.py).
AIRFLOW_DB_DRIVERS := "psycopg2-binary>=2.9,<3" "asyncpg>=0.29,<1"
$(AIRFLOW2_VENV)/bin/airflow: $(BIN)/composer-obs
	$(UV) venv -q --allow-existing -p $(PYTHON) $(AIRFLOW2_VENV)
	VIRTUAL_ENV=$(AIRFLOW2_VENV) $(UV) pip install -q --compile-bytecode "apache-airflow==$(AIRFLOW2_VERSION)" $(AIRFLOW_DB_DRIVERS) -e .
	touch $@

$(AIRFLOW3_VENV)/bin/airflow: $(BIN)/composer-obs
	$(UV) venv -q --allow-existing -p $(PYTHON) $(AIRFLOW3_VENV)
	VIRTUAL_ENV=$(AIRFLOW3_VENV) $(UV) pip install -q --compile-bytecode "apache-airflow==$(AIRFLOW3_VERSION)" $(AIRFLOW_DB_DRIVERS) -e .
	touch $@

airflow-envs: $(AIRFLOW2_VENV)/bin/airflow $(AIRFLOW3_VENV)/bin/airflow

# The offline demo: a real Airflow 3 (api-server, scheduler, dag-processor) runs a failing DAG,
# a task SIGKILLed as by the OOM killer and a DAG file that no longer imports; the callbacks and
# the watchdog report them, through the emulator and the router, to a PagerDuty stand-in;
# leaves demo-output/ (report.html, Airflow's home and logs).
demo: setup $(AIRFLOW3_VENV)/bin/airflow
	AIRFLOW_VENV=$(AIRFLOW3_VENV) $(BIN)/python -m examples.demo

test: setup airflow-envs
	COMPOSER_OBS_AIRFLOW_VENVS="$(AIRFLOW2_VENV) $(AIRFLOW3_VENV)" $(BIN)/pytest -n 2 -q

# The unit tests of the alert policies (alert_tests/): also part of `make test`.
alert-tests: setup
	$(BIN)/composer-obs test-alerts alert_tests/*.yaml

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/callback_overhead.py

emulator: setup
	$(BIN)/composer-obs emulator

# The default log metrics, channels, alert policies and dashboards: to the project in the
# environment (COMPOSER_OBS_PROJECT), or to the emulator where COMPOSER_OBS_EMULATOR is set.
# Variables: COMPOSER_OBS_ROUTER_WEBHOOK_URL, COMPOSER_OBS_ROUTER_TOKEN, COMPOSER_OBS_TEAM, thresholds;
# PROVISION_ARGS adds flags (e.g. --vars provision.vars.yaml --prune).
provision-metrics: setup
	$(BIN)/python -m observability.provision apply $(PROVISION_ARGS)

clean:
	rm -rf $(VENV) .venvs demo-output
