# Developer entry points. Needs only python3: `make run` or `make test` on a fresh clone.
#   make run                       migrate, collect static, serve on $PORT (default 8000)
#   make test TEST_ARGS=balance    run some tests; TEST_VERBOSITY=2 lists each test
#   make lint                      ruff check + ruff format --check

PYTHON ?= python3
VENV ?= .venv
VENV_PYTHON := $(VENV)/bin/python
# Installs again only when a requirements file is newer than this stamp.
STAMP := $(VENV)/.requirements-installed
TEST_ARGS ?=
TEST_VERBOSITY ?= 1

.PHONY: venv env run test lint

venv: $(STAMP)

$(VENV_PYTHON):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install --disable-pip-version-check -r requirements-dev.txt
	touch $@

env:
	$(PYTHON) scripts/ensure_env.py

run: venv env
	$(VENV_PYTHON) manage.py migrate --noinput
	$(VENV_PYTHON) manage.py collectstatic --noinput
	exec $(VENV)/bin/gunicorn -c gunicorn.conf.py lighTech.wsgi:application

test: venv env
	$(VENV_PYTHON) manage.py test --noinput --verbosity $(TEST_VERBOSITY) $(TEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
