# The two set-up commands of the README are `make run` and `make test`; everything else here
# is what they are made of. Python dependencies go into ./.venv, pinned in the requirements files.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export PYTHONDONTWRITEBYTECODE := 1
export MLFLOW_DISABLE_TELEMETRY := true
# The venv's bin first, so `python` inside DVC stages is ours.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install run test test-python test-node node-deps browser serve mlflow-ui lint

$(STAMP): ml_model/requirements.txt mlops/requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## The main job: train (if the artifacts are missing) and a smoke request to the service.
run: install
	$(PY) -m ml_model.smoke

## Every test: Python (unit and end-to-end), then the Node and browser suites.
test: install
	$(PY) -m pytest
