# LightTech API image: gunicorn serving Django, static files collected at build time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

WORKDIR /app

RUN groupadd --system app \
    && useradd --system --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

# Dependencies first, in their own layer, so a code change does not reinstall them.
COPY requirements.txt ./
RUN pip install -r requirements.txt

# The code stays owned by root: the app user can run it but not change it.
COPY . .
RUN chmod 0755 docker/entrypoint.sh \
    && DJANGO_SECRET_KEY=collectstatic-at-build-only python manage.py collectstatic --noinput

USER app

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/health/' % os.environ.get('PORT', '8000'), timeout=4)" || exit 1

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "lighTech.wsgi:application"]
