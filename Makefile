# ecsflow developer tasks. Needs only python3 (and make) on a fresh clone.
# Run `make` or `make help` for the list of targets.

PYTHON ?= python3
VENV   ?= .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Extra flags, e.g. `make test PYTEST_ARGS="-q -k env"` or `make venv INSTALL_QUIET=-q`.
PYTEST_ARGS   ?=
INSTALL_QUIET ?=

LINT_PATHS := ecsflow tests notebooks

.DEFAULT_GOAL := help
.PHONY: help venv test lint format report samples simulated-sample clean distclean

help: ## List targets with a one-line description
	@echo "Usage: make <target>"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: $(STAMP) ## Create .venv and install ecsflow -e ".[dev]" (reinstalls when pyproject.toml changes)

# uv is much faster than pip here; UV_COMPILE_BYTECODE=1 because PYTHONDONTWRITEBYTECODE=1 is set
# on this machine (otherwise every import recompiles). Falls back to plain pip if uv can't be installed.
$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@if $(VPY) -m pip install -qq uv; then \
		UV_COMPILE_BYTECODE=1 $(VENV)/bin/uv pip install $(INSTALL_QUIET) --python $(VPY) -e ".[dev]"; \
	else \
		echo "uv install failed; falling back to pip" >&2; \
		$(VPY) -m pip install $(INSTALL_QUIET) -e ".[dev]"; \
	fi
	@touch $@

test: $(STAMP) ## Run the tests (tests/) and doctests (ecsflow/)
	$(VPY) -m pytest -p no:cacheprovider $(PYTEST_ARGS) tests ecsflow

lint: $(STAMP) ## ruff check + ruff format --check (runs both, fails if either fails)
	@rc=0; \
	$(VPY) -m ruff check $(LINT_PATHS) || rc=1; \
	$(VPY) -m ruff format --check $(LINT_PATHS) || rc=1; \
	exit $$rc

format: $(STAMP) ## ruff format + ruff check --fix
	$(VPY) -m ruff format $(LINT_PATHS)
	$(VPY) -m ruff check --fix $(LINT_PATHS)

report: $(STAMP) ## Execute notebooks/*.ipynb and render HTML reports into reports/
	$(VPY) -m ecsflow.report --out reports notebooks/*.ipynb

samples: $(STAMP) ## Regenerate the sample data (data/samples/make_article_sample.py)
	$(VPY) data/samples/make_article_sample.py

# The committed simulated deployment: small subnets (IP reuse), frequent deployments, little
# traffic per task, so that a few thousand records show every mechanism.
SIMULATED_SAMPLE_ARGS := --seed 7 --records 4000 \
	--set clusters=2 --set ec2_clusters=1 --set services_per_cluster=2 --set max_tasks=3 \
	--set subnet_prefix_length=28 --set calls_per_minute=0.1 --set lb_requests_per_minute=0.2 \
	--set internet_clients_per_minute=0.2 --set internet_calls_per_minute=0.03 \
	--set s3_calls_per_minute=0.03 --set ec2_calls_per_minute=0.2 --set rejected_per_minute=0.02 \
	--set deployments_per_day=12 --set scaling_events_per_day=12 --set standalone_tasks_per_hour=1 \
	--set p_empty_slot=0.3 --set p_stopped_container=0.3 --set p_ecs_delay=0.3 --set p_skipdata=0.01

simulated-sample: $(STAMP) ## Regenerate data/samples/simulated byte for byte (ecsflow simulate)
	$(VPY) -m ecsflow.cli simulate data/samples/simulated $(SIMULATED_SAMPLE_ARGS)

clean: ## Remove reports/ and caches (keeps .venv)
	rm -rf reports .pytest_cache .ruff_cache build dist *.egg-info
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -print0 \
		| xargs -0 rm -rf

distclean: clean ## clean + remove .venv
	rm -rf $(VENV)
