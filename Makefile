# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv on first use and install what they need into it.
#
# torch: where the venv has no torch yet, the CPU build pinned below is installed
# first, so that the package's `torch>=2.1` range never pulls a CUDA build. A GPU
# user keeps their own torch: install it into .venv before running make, or make
# the venv see a system-wide torch with `make test VENV_FLAGS=--system-site-packages`.

PYTHON ?= python3
VENV ?= .venv
VENV_FLAGS ?=
TORCH_CPU ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ddir-kit-installed

.PHONY: demo demo-fast test test-all install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install $(TORCH_CPU)
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ddir-kit demo --out demo-out

demo-fast: $(STAMP)
	$(VENV)/bin/ddir-kit demo --fast --out demo-fast-out

test: $(STAMP)
	$(PY) -m pytest -q

test-all: $(STAMP)
	$(PY) -m pytest -q -m ""

clean:
	rm -rf $(VENV) demo-out demo-fast-out .pytest_cache
