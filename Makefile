# One command runs the dashboard (make run) and one runs the tests (make test).
VENV := .venv
PORT ?= 8000
PY := $(VENV)/bin/python

# Under pyenv, .python-version selects the interpreter; otherwise the newest python3.1x on PATH.
define find_python
for candidate in "$$(pyenv which python 2>/dev/null)" "$$(command -v python3.13)" "$$(command -v python3.12)" "$$(command -v python3)"; do \
  if [ -n "$$candidate" ] && "$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo "$$candidate"; exit 0; fi; \
done; \
echo "Python 3.12 or newer is needed. Install it (for example: pyenv install 3.13, or apt-get install python3.13) and run make again." >&2; exit 1
endef

.PHONY: run test install install-test worker check-deploy clean

$(VENV)/.installed: pyproject.toml
	@python=$$($(find_python)) || exit 1; \
	  echo "Using $$python ($$($$python -V))"; \
	  [ -x $(PY) ] || $$python -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Serves the dashboard and, beside it, one background worker for batches; Ctrl-C stops both.
run: install
	$(PY) manage.py migrate --no-input
	@$(PY) manage.py ensure_login
	@echo "Serving on http://127.0.0.1:$(PORT)/ (sandbox mode unless BROWSER_USE_API_KEY is set)"
	@$(PY) manage.py db_worker --no-reload -v 0 & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Runs background work (batches, schedules); start one or more next to the web server.
worker: install
	$(PY) manage.py db_worker

test: install-test
	$(PY) -m pytest $(PYTEST_ARGS)

check-deploy: install
	DASHBOARD_ENV=production SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  ALLOWED_HOSTS=dashboard.example.com FIELD_ENCRYPTION_KEYS=$$($(PY) -c "import secrets; print(secrets.token_urlsafe(32))") $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
