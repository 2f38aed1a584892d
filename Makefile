# The whole set-up is `make run` (serve the demo) and `make test` (run the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2

.PHONY: run test bench lint format security security-code security-deps install install-dev clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.installed

tests/browser/node_modules/axe-core/axe.min.js: tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null; then cd tests/browser && npm ci --silent --no-audit --no-fund; \
	else echo "npm not found: the accessibility checks in the browser tests will be skipped"; fi

# Translations: the catalogues (journal/translations/*/LC_MESSAGES/messages.po) are committed; the compiled .mo
# files the app reads are made from them here, so every install, `make run` and `make test` has them fresh.
CATALOGUES := $(wildcard journal/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)

journal/translations/%.mo: journal/translations/%.po | $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@

# For developers, after marking or changing strings: extract them again and merge into every catalogue (new
# or changed entries come with an empty translation: translate them; tests/test_translations.py checks).
translations: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output -k lazy_gettext -k _l \
		-o journal/translations/messages.pot .
	$(BIN)/pybabel -q update --no-fuzzy-matching --ignore-obsolete -w 120 -i journal/translations/messages.pot \
		-d journal/translations
	rm journal/translations/messages.pot
	$(MAKE) $(COMPILED)

install: $(VENV)/.installed $(COMPILED)
install-dev: $(VENV)/.installed-dev $(COMPILED)

instance/demo-password:
	@mkdir -p instance
	@$(BIN)/python -c "import secrets; print(secrets.token_urlsafe(12))" > $@

run: export JOURNAL_BASE_URL ?= http://$(HOST):$(PORT)
run: install instance/demo-password
	$(FLASK) db upgrade
	$(FLASK) demo --password "$$(cat instance/demo-password)"
	@echo "Serving on http://$(HOST):$(PORT)/ with the scheduler beside it (Ctrl-C stops both)"
	$(BIN)/python -m jobs & scheduler=$$!; trap 'kill $$scheduler 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) --no-control-socket --access-logfile - \
		--logger-class journal.logs.GunicornLogger wsgi:app

test: install-dev tests/browser/node_modules/axe-core/axe.min.js
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Figures against baselines measured in the same run; writes BENCHMARKS.md. Needs wrk, Chromium (page weights)
# and a PostgreSQL server: as root on Debian what is missing is installed, and .ci/postgres starts the cluster
# with a throwaway database; elsewhere install them and set JOURNAL_BENCH_POSTGRES_URL.
bench: install-dev
	@missing=""; command -v wrk >/dev/null || missing="wrk"; [ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -z "$$JOURNAL_BENCH_POSTGRES_URL" ]; then command -v pg_ctlcluster >/dev/null || missing="$$missing postgresql"; fi; \
	if [ -n "$$missing" ]; then \
		[ "$$(id -u)" = 0 ] || { echo "make bench needs: $$missing (apt-get install $$missing)"; exit 2; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi; \
	if [ -z "$$JOURNAL_BENCH_POSTGRES_URL" ]; then \
		export JOURNAL_BENCH_POSTGRES_URL="$$(.ci/postgres journal_bench)"; \
	fi; $(BIN)/python -m bench.run $(BENCH_ARGS)

lint: install-dev
	$(BIN)/ruff check journal jobs tests bench wsgi.py
	$(BIN)/ruff format --check journal jobs tests bench wsgi.py

# Security checks. bandit fails on any high-severity finding in the application code (medium and low ones
# were reviewed: fixed, or marked `# nosec BXXX # reason`; its "nosec encountered ... but no failed test"
# warnings on journal/config.py are PyCQA/bandit#1352, harmless). pip-audit resolves both requirement files,
# dependencies included, and looks each release up in PyPI's vulnerability data; --strict makes a release it
# could not look up a failure rather than a silent pass. CI runs only security-code for now: pip-audit
# cannot reach a vulnerability service from the CI machine.
security: security-code security-deps

security-code: install-dev
	$(BIN)/bandit -q -r journal jobs wsgi.py --severity-level high

security-deps: install-dev
	$(BIN)/pip-audit --strict --progress-spinner off -r requirements-dev.txt

format: install-dev
	$(BIN)/ruff format journal jobs tests bench wsgi.py
	$(BIN)/ruff check --fix journal jobs tests bench wsgi.py

clean:
	rm -rf $(VENV) tests/browser/node_modules .pytest_cache .ruff_cache .hypothesis
