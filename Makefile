# Two entry points: `make demo` and `make test`. Each creates .venv when it is missing.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test venv clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The pinned torch first: on these machines it is the local CPU build; an unpinned
	# torch would pull gigabytes of CUDA packages.
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/keel train sac --env Pendulum-v1 --run-dir runs/demo-sac-pendulum --overwrite

test: $(STAMP)
	$(PY) -m pytest

clean-venv:
	rm -rf $(VENV)
