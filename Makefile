# sportello: `make run` starts the demo daemon, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: run test lint typecheck bench browser migration clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11+ is needed (set PYTHON=...)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sportello demo --port $(PORT)

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) typecheck

# mypy on every module, tests included, but the migrations (Alembic's generated history); every
# function must be annotated. The layout is flat (this directory is the package), so mypy reads
# it as ``sportello`` through a link under var/; the tests import their helpers (conftest, ...)
# by bare name, as pytest puts tests/ on the path, hence MYPYPATH.
typecheck: $(STAMP)
	mkdir -p var/typecheck && ln -sfn $(CURDIR) var/typecheck/sportello
	cd var/typecheck && MYPYPATH=$(CURDIR)/tests $(CURDIR)/$(BIN)/mypy --explicit-package-bases --ignore-missing-imports \
	  --follow-imports=silent --disallow-untyped-defs \
	  $$(git -C $(CURDIR) ls-files '*.py' | grep -v -e '/migrations/' | sed 's|^|sportello/|')

# The web inbox is tested in Debian's Chromium; install it where it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || \
	  { echo "installing chromium for the browser tests"; \
	    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	    echo "warning: could not install chromium; browser tests will be skipped"; }

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# Write a new Alembic revision from the difference between the tables and the schema.
migration: $(STAMP)
	$(BIN)/python -m sportello.inbox.make_revision "$(MSG)"

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
