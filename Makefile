# Developer entry points. Needs only python3: `make run` or `make test` on a fresh clone.
#   make run                       migrate, collect static, serve on $PORT (default 8000)
#   make test TEST_ARGS=balance    run some tests; TEST_VERBOSITY=2 lists each test
#   make lint                      ruff check + ruff format --check
#   make fuzz                      schemathesis over every endpoint (FUZZ_EXAMPLES=30 per operation)
#   make browser-test              headless Chromium on /api/docs/ and /api/redoc/ (installs chromium)
#   make bank-test                 5-minute fault-injection bank test (BANK_TEST_ARGS to tune)
#   make bench                     load-test gunicorn + PostgreSQL against pgbench (needs a local
#                                  PostgreSQL; installs wrk and pgbench with apt-get if missing;
#                                  docs/performance.md)

PYTHON ?= python3
VENV ?= .venv
VENV_PYTHON := $(VENV)/bin/python
# Installs again only when a requirements file is newer than this stamp.
STAMP := $(VENV)/.requirements-installed
TEST_ARGS ?=
TEST_VERBOSITY ?= 1

.PHONY: venv env run test lint fuzz browser-test bank-test bench

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

fuzz: venv env
	PYTHON=$(VENV_PYTHON) scripts/schemathesis.sh

browser-test: venv env
	PYTHON=$(VENV_PYTHON) scripts/browser_test.sh

# The Jepsen-style bank test: its own PostgreSQL cluster and gunicorn, 16 clients, 5 minutes,
# repeated worker kills and two database restarts. CI runs a short version, e.g.
#   make bank-test BANK_TEST_ARGS="--clients 8 --duration 60 --worker-kills 1 --db-restarts 1"
BANK_TEST_ARGS ?= --clients 16 --duration 300 --worker-kills 6 --db-restarts 2

bank-test: venv
	$(VENV_PYTHON) scripts/bank_test.py $(BANK_TEST_ARGS)

bench: venv env
	$(VENV_PYTHON) bench/run.py
