# Two commands do all set-up on a fresh machine:
#   make demo   creates .venv, installs autolog, trains a model with tracking, shows the runs
#   make test   creates .venv with the dev extras, runs ruff, mypy and the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: demo test lint typecheck pytest bench peer clean

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	touch $@

$(VENV)/.dev: $(VENV)/.created pyproject.toml
	$(PIP) -e ".[dev]"
	touch $@

$(VENV)/.demo: $(VENV)/.created pyproject.toml
	$(PIP) -e ".[sklearn,xgboost,pandas]"
	touch $@

demo: $(VENV)/.demo
	rm -rf build/demo-runs
	AUTOLOG_TRACKING_URI=build/demo-runs $(PY) -m autolog run examples/train_sklearn.py
	AUTOLOG_TRACKING_URI=build/demo-runs $(PY) -m autolog runs

test: $(VENV)/.dev lint typecheck pytest

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# mypy cannot follow setuptools' package-dir mapping in an editable install, so
# it checks a tree of links shaped like the installed package.
typecheck: $(VENV)/.dev
	rm -rf build/typecheck && mkdir -p build/typecheck/autolog
	for f in autolog/*.py autolog/py.typed autolog/_[a-z]*/; do ln -s "$(CURDIR)/$${f%/}" build/typecheck/autolog/; done
	ln -s "$(CURDIR)/integrations" build/typecheck/autolog/integrations
	ln -s "$(CURDIR)/backends" build/typecheck/autolog/backends
	cd build/typecheck && "$(CURDIR)/$(PY)" -m mypy --config-file "$(CURDIR)/pyproject.toml" -p autolog

pytest: $(VENV)/.dev
	AUTOLOG_STRICT=1 $(PY) -m pytest -q -p no:cacheprovider

# The peer the compatibility tests and benchmarks compare with (they skip without it).
peer: $(VENV)/.peer

$(VENV)/.peer: $(VENV)/.dev
	$(PIP) -e ".[dev,bench]"
	touch $@

# Benchmarks (not tests): each prints its figures and MLflow's for the same work.
bench: $(VENV)/.peer
	$(PY) bench/logging_throughput.py
	$(PY) bench/autolog_overhead.py
	$(PY) bench/log_model_cost.py
	$(PY) bench/s3_logging.py
	$(PY) bench/store_scale.py

clean:
	rm -rf $(VENV) build autolog-runs
