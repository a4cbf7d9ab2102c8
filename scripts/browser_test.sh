#!/usr/bin/env bash
# The docs-page browser test: installs Debian's chromium when it is missing, then runs
# lighTech.tests.test_docs_browser (gunicorn with DEBUG off + headless Chromium, offline).
# Screenshots: build/browser/*.png. Playwright drives /usr/bin/chromium; it never downloads
# a browser of its own (no `playwright install`).
set -euo pipefail

cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"

if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

"$PY" manage.py test lighTech.tests.test_docs_browser --noinput "$@"
