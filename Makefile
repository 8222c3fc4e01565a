# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make run   - virtual environment, install, migrate, demo workspace, serve on 127.0.0.1:8000
#   make test  - virtual environment, install, the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000

.PHONY: run test lint venv venv-dev collectstatic

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed

venv-dev: $(VENV)/.installed-dev

run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_setup
	@echo "Serving on http://$(HOST)/  (API Settings: http://$(HOST)/w/demo/settings/api/)"
	$(BIN)/python manage.py runserver $(HOST)

test: venv-dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

collectstatic: venv
	$(BIN)/python manage.py collectstatic --noinput
