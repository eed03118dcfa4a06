# aicrm: two commands.
#   make demo  - create .venv, install everything, load the demo store, train every model, serve on localhost
#   make test  - install the dev extras and run the whole test suite (SQLite and PostgreSQL)
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
DEMO_CUSTOMERS ?= 5000

.PHONY: demo test venv install install-dev browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

venv: $(BIN)/python

# torch first, pinned to the CPU build this project is tested with (any other version pulls gigabytes).
install: venv
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[all]'

install-dev: venv
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[all,dev]'

# Browser tests need Debian's chromium; install it when missing and we are root, otherwise those tests skip.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian chromium for the browser tests..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium espeak-ng sox >/dev/null) \
		|| echo "Could not install chromium; browser tests will skip."; \
	fi

demo: install
	$(BIN)/aicrm demo --customers $(DEMO_CUSTOMERS)

# One BLAS/OpenMP/torch thread per test worker: two workers on two cores, no oversubscription.
test: install-dev browser
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadgroup -q

bench: install-dev
	$(BIN)/python bench/import_bench.py

clean:
	rm -rf $(VENV) aicrm.db aicrm.db-* .pytest_cache test-artifacts
