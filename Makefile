# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make run   - virtual environment, install, migrate, demo workspace, serve on 127.0.0.1:8000
#                (another address or port: make run HOST=127.0.0.1:8001)
#   make test  - virtual environment, install, the whole test suite
#   make serve HOST=0.0.0.0:80 - the production stack in the foreground: nginx and both gunicorn
#                pools (deploy/serve.py; settings from the environment or .env; Ctrl-C stops it)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000
PIP := pip==26.3
PIP_TOOLS := pip-tools==7.6.2
LOCK_TOOLS := $(VENV)/lock-tools
LOCK := CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_TOOLS)/bin/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links

digest = $$(cat $(1) | sha256sum | cut -c1-64)
define lock_is_current
	@test "$$(sed -n 's/^# made from sha256: //p' $(1))" = "$(call digest,$(2))" || \
	  { echo "$(1) was not made from the current $(2): run 'make lock' and commit it" >&2; exit 1; }
endef

.PHONY: run serve test lint venv venv-dev collectstatic lock

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP)

# Installs come from the locks: every package, direct or not, pinned with its hashes. The human
# lists are requirements.txt and requirements-dev.txt; `make lock` remakes the locks from them and
# writes the lists' digest into each lock, so an edited list that was not relocked stops here.
$(VENV)/.installed: requirements.lock requirements.txt | $(BIN)/python
	$(call lock_is_current,requirements.lock,requirements.txt)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock requirements.txt requirements-dev.txt | $(BIN)/python
	$(call lock_is_current,requirements-dev.lock,requirements.txt requirements-dev.txt)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed

venv-dev: $(VENV)/.installed-dev

run: venv
	@$(BIN)/python tools/port_free.py $(HOST)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_setup
	@echo "Serving on http://$(HOST)/  (API Settings: http://$(HOST)/w/demo/settings/api/)"
	$(BIN)/python manage.py runserver $(HOST)

serve: venv
	$(BIN)/python deploy/serve.py $(HOST)

test: venv-dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

# The locks, remade from the lists. Pins already in a lock are kept while the lists allow them;
# requirements-dev.lock holds the same versions as requirements.lock for what they share.
lock: $(LOCK_TOOLS)/.installed
	$(LOCK) --output-file=requirements.lock requirements.txt
	echo "# made from sha256: $(call digest,requirements.txt)" >> requirements.lock
	$(LOCK) --constraint=requirements.lock --output-file=requirements-dev.lock requirements-dev.txt
	echo "# made from sha256: $(call digest,requirements.txt requirements-dev.txt)" \
	  >> requirements-dev.lock

$(LOCK_TOOLS)/.installed:
	$(PYTHON) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/python -m pip install --quiet $(PIP) $(PIP_TOOLS)
	touch $@

collectstatic: venv
	$(BIN)/python manage.py collectstatic --noinput
