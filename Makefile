# cartosoins — the two commands of the README:
#   make run    create .venv, install, start the HTTP service on http://127.0.0.1:8000
#   make test   install the dev extras, then ruff, mypy, pytest (SQLite) and test-postgresql
#   make test-postgresql   the service's tests (tests/api) again on PostgreSQL: a throwaway
#               cluster (scripts/pg_cluster.sh; needs the server binaries, Debian: postgresql),
#               or the server of CARTOSOINS_TEST_POSTGRES_URL
# Maps and pages show the real GPs embedded in cartosoins (INSEE BPE) by default;
#   make map DEMO=1   draws the simulated practitioners instead (files suffixed _demo).
#   make notebooks    installs Jupyter in the venv and opens the notebooks (notebooks/).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out
DEPARTEMENT ?= 63
MEASURE ?= apl
DEMO ?=
PIP_FLAGS ?= --disable-pip-version-check --no-input -q

.PHONY: run map test lint typecheck pytest test-postgresql bench reference clean install install-dev notebooks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install $(PIP_FLAGS) -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install $(PIP_FLAGS) -c constraints.txt -e '.[dev]'
	touch $@

$(VENV)/.installed-notebooks: $(VENV)/.installed
	$(BIN)/python -m pip install $(PIP_FLAGS) -c constraints.txt -e '.[notebooks]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# JupyterLab on the notebooks, served on this machine only (JUPYTER_FLAGS=--no-browser…)
JUPYTER_FLAGS ?=
notebooks: $(VENV)/.installed-notebooks
	$(BIN)/jupyter trust notebooks/*.ipynb  # built by scripts/build_notebooks.py: show their maps
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks $(JUPYTER_FLAGS)

run: $(VENV)/.installed
	$(BIN)/cartosoins serve --host 127.0.0.1 --port 8000

map: $(VENV)/.installed
	$(BIN)/cartosoins map --departement $(DEPARTEMENT) --measure $(MEASURE) --out $(OUT)$(if $(DEMO), --demo)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/python -m pytest

# skipped with a notice where no PostgreSQL server is installed (never in CI: .ci/run installs it)
test-postgresql: install-dev
	@if [ -n "$$CI" ] || [ -n "$$CARTOSOINS_TEST_POSTGRES_URL" ] || \
	    $(BIN)/python -c "import sys; from tests.pg import server_binaries; sys.exit(server_binaries() is None)"; then \
	  $(BIN)/python -m pytest tests/api tests/web --db=postgresql -q; \
	else \
	  echo "test-postgresql skipped: no PostgreSQL server binaries (Debian: apt-get install postgresql)"; \
	fi

test: lint typecheck pytest test-postgresql

bench: install-dev
	$(BIN)/python benchmarks/bench_reference.py
	$(BIN)/python benchmarks/bench_demo.py
	$(BIN)/python benchmarks/bench_access.py
	$(BIN)/python benchmarks/bench_analyse.py
	$(BIN)/python benchmarks/bench_maps.py
	$(BIN)/python benchmarks/bench_scenario.py
	$(BIN)/python benchmarks/bench_siting.py
	$(BIN)/python benchmarks/bench_road.py
	$(BIN)/python benchmarks/bench_api_load.py

reference: install
	$(BIN)/python scripts/build_reference.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
