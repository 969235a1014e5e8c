# Two commands on a fresh machine: `make run` serves the app, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format clean chromium lock audit

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Installs take the versions pinned in requirements.lock (the ones CI audits).
$(VENV)/.installed-run: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install -q -c requirements.lock -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install -q -c requirements.lock -e '.[test]'
	@touch $@ $(VENV)/.installed-run

# The worker (e-mail, slow scoring, retention) runs beside gunicorn, in one shell:
# it stops when the server stops, however the server ends (Ctrl-C, a failed start).
run: $(VENV)/.installed-run
	$(BIN)/flask --app app db upgrade
	$(BIN)/flask --app app worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	trap 'exit 130' INT TERM; \
	$(BIN)/gunicorn -c python:ats.gunicorn_conf app:app

# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing: run 'sudo apt-get install chromium' (browser tests are skipped without it)"; \
	  fi; }

# Every test on SQLite, then again on PostgreSQL when ATS_TEST_POSTGRES_URL names a
# server (.ci/run starts one). Two test processes: the machine has two cores.
PYTEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

test: $(VENV)/.installed-test chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python .ci/audit
	$(PYTEST) --db=sqlite
	@if [ -n "$$ATS_TEST_POSTGRES_URL" ]; then \
	  echo "$(PYTEST) --db=postgres"; $(PYTEST) --db=postgres; \
	else \
	  echo "PostgreSQL run skipped: ATS_TEST_POSTGRES_URL is not set (.ci/run sets it)"; \
	fi

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-pin every dependency of the app and its tests after a change to pyproject.toml:
# the newest versions the index offers, resolved in a throw-away venv.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip && .lock-venv/bin/pip install -q -e '.[test]'
	{ echo "# make lock: every dependency of '.[test]', as installed and audited (.ci/audit)"; \
	  .lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e '; } > requirements.lock
	rm -rf .lock-venv

# Known vulnerabilities in the pinned versions (pip-audit against OSV).
audit: $(VENV)/.installed-test
	$(BIN)/python .ci/audit

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
