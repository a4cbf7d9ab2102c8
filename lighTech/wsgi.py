"""WSGI entry point used by gunicorn (lighTech/handlers.py: the API's shorter middleware chain)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lighTech.settings")
# What django.core.wsgi.get_wsgi_application() does, with our application in place of its
# WSGIHandler.
django.setup(set_prefix=False)

from lighTech.handlers import PathRoutedWSGIApplication  # noqa: E402 - needs django.setup()

application = PathRoutedWSGIApplication()
