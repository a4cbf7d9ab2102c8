"""LightTech settings, driven entirely by environment variables (a `.env` file fills the gaps)."""

import os
import re
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# Real environment variables win over the .env file.
load_dotenv(BASE_DIR / ".env", override=False)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = env_str(name)
    if not value:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    return int(value) if value else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY or SECRET_KEY == "change-me":  # noqa: S105 - the .env.example placeholder
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set. Run `make env` (it creates .env from .env.example "
        "with a fresh key) or export DJANGO_SECRET_KEY."
    )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "authapp",
    "balance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outside CommonMiddleware, like SecurityMiddleware, so that the 400 it answers for a
    # refused Host header carries X-Frame-Options too (it only sets a response header).
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

# The API's bodies are a few hundred bytes; a larger body is refused with 413 before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

# A redirect from `/x` to `/x/` would drop a POST body; unknown paths answer 404 instead.
APPEND_SLASH = False

ROOT_URLCONF = "lighTech.urls"
WSGI_APPLICATION = "lighTech.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "lighTech" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

CONN_MAX_AGE = env_int("DJANGO_CONN_MAX_AGE", 60)

if env_str("POSTGRES_DB"):
    DATABASES = {
        "default": {
            # Django's backend with a cheaper per-request health check (lighTech/postgresql).
            "ENGINE": "lighTech.postgresql",
            "NAME": env_str("POSTGRES_DB"),
            "USER": env_str("POSTGRES_USER", "postgres"),
            "PASSWORD": env_str("POSTGRES_PASSWORD"),
            "HOST": env_str("POSTGRES_HOST", "localhost"),
            "PORT": env_str("POSTGRES_PORT", "5432"),
            "CONN_MAX_AGE": CONN_MAX_AGE,
            # A connection kept across requests is checked first, so the app recovers by
            # itself after a database restart.
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {"connect_timeout": env_int("POSTGRES_CONNECT_TIMEOUT", 5)},
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH") or str(BASE_DIR / "db.sqlite3"),
            # IMMEDIATE transactions take SQLite's write lock up front: writers queue
            # instead of failing with "database is locked" halfway through.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL;",
            },
            # A file, not memory, so the end-to-end test's gunicorn sees the test data.
            "TEST": {"NAME": str(BASE_DIR / "test_db.sqlite3")},
        }
    }

TEST_RUNNER = "lighTech.test_runner.LightTechTestRunner"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "authapp.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Static files are found in the apps even before `collectstatic` has run.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "authapp.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["lighTech.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "lighTech.negotiation.JSONFirstContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_standardized_errors.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "lighTech.exception_handler.ExceptionHandler",
    # Documented in the schema for every endpoint that can answer them.
    "ALLOWED_ERROR_STATUS_CODES": ["400", "401", "404", "405", "415", "429", "500", "503"],
    # 401 and 503 bodies carry more codes than the package's defaults know (lighTech/openapi.py).
    "ERROR_SCHEMAS": {
        "401": "lighTech.openapi.AuthErrorResponseSerializer",
        "503": "lighTech.openapi.UnavailableErrorResponseSerializer",
    },
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

_ERROR_ENUMS = "drf_standardized_errors.openapi_serializers"

SPECTACULAR_SETTINGS = {
    "TITLE": "LightTech API",
    "DESCRIPTION": (
        "Accounts and money: register, log in, deposit, withdraw, transfer and read the "
        "history. Authenticate with `Authorization: Bearer <access token>` from the login "
        "endpoint. Access tokens live a few minutes and stay valid until they expire, even "
        "after logout; logout blacklists the refresh token. Every error response has the "
        "shape `{type, errors: [{code, detail, attr}]}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ValidationErrorEnum": f"{_ERROR_ENUMS}.ValidationErrorEnum.choices",
        "ClientErrorEnum": f"{_ERROR_ENUMS}.ClientErrorEnum.choices",
        "ServerErrorEnum": f"{_ERROR_ENUMS}.ServerErrorEnum.choices",
        "OperationTypeEnum": "balance.models.Operation.Type",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        "lighTech.openapi.postprocess_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
}

# --- Sessions, throttling and production hardening (issue 5) ---------------------------------

# Proxies in front of the app that append to X-Forwarded-For. 0 (the default) ignores the
# header: a client could otherwise pick its own IP and escape the per-IP limits.
NUM_PROXIES = env_int("DJANGO_NUM_PROXIES", 0)
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "lightech"),
            # A Redis that hangs must not hang the request: the throttles fail open.
            "OPTIONS": {
                "socket_connect_timeout": float(env_str("REDIS_TIMEOUT", "0.5")),
                "socket_timeout": float(env_str("REDIS_TIMEOUT", "0.5")),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

THROTTLE_CACHE_ALIAS = "default"
# DRF's rate format: <count>/<s|min|h|day>.
_THROTTLE_ENV = {
    "login_username": ("THROTTLE_LOGIN_USERNAME", "5/min"),
    "auth_ip": ("THROTTLE_AUTH_IP", "20/min"),
    "money_user": ("THROTTLE_MONEY_USER", "100/s"),
}
THROTTLE_RATES = {scope: env_str(name, default) for scope, (name, default) in _THROTTLE_ENV.items()}
for _scope, (_name, _default) in _THROTTLE_ENV.items():
    if not re.fullmatch(r"\d+/(s|sec|m|min|h|hour|d|day)", THROTTLE_RATES[_scope]):
        raise ImproperlyConfigured(
            f"{_name}={THROTTLE_RATES[_scope]!r} is not a rate like '5/min'."
        )

# Test runs raise every limit (lighTech/test_runner.py); the throttle tests lower them.

# Argon2 for new and changed passwords; PBKDF2 still verifies (and upgrades at login) the
# hashes stored before.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# HTTPS: on in production through the environment (see docs/security.md). Off by default
# so `make run` on http://localhost works.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
# Load balancers probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", default=False)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = env_str("DJANGO_SECURE_REFERRER_POLICY", "same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# CORS: closed (no Access-Control-Allow-Origin at all) unless origins are listed.
INSTALLED_APPS.append("corsheaders")
# As high as possible, before CommonMiddleware, so even its responses carry CORS headers.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.common.CommonMiddleware"),
    "corsheaders.middleware.CorsMiddleware",
)
CORS_ALLOWED_ORIGINS = env_list("DJANGO_CORS_ALLOWED_ORIGINS", "")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
)
CORS_EXPOSE_HEADERS = ("Retry-After", "Idempotent-Replayed", "WWW-Authenticate")

# The admin lives where the environment says; a non-default path keeps bots off its login.
ADMIN_PATH = env_str("DJANGO_ADMIN_PATH", "admin/").strip("/") + "/"
if ADMIN_PATH == "/" or ADMIN_PATH.startswith("api/"):
    raise ImproperlyConfigured("DJANGO_ADMIN_PATH must be a path outside /api/, like 'admin/'.")
