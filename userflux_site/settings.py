"""Settings for userflux-site, read from the environment (and an optional `.env`).

Every variable is documented in `.env.example`. With no environment at all the app runs on
the embedded default: DEBUG on, a SQLite file under `var/` and the local-memory cache.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

_DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105 (DEBUG only)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off the app needs a secret key of its own: "
            "set SECRET_KEY in the environment or in .env (see .env.example)."
        )
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Networks whose X-Forwarded-For is believed. Empty: the client is always REMOTE_ADDR.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "corsheaders",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "workspaces",
    "apikeys",
    "ingest",
    "metrics",
]

MIDDLEWARE = [
    "userflux_site.unavailable.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "userflux_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

WSGI_APPLICATION = "userflux_site.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        # WAL lets the page read while an API call writes; IMMEDIATE avoids lock upgrades.
        {"transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    # Reconnecting on every request costs most of an endpoint's throughput (docs/performance.md).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # A health check is a SELECT 1 round trip at the start of every request; off by default.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # django-redis behind a per-process circuit breaker (userflux_site/sharedcache.py).
            "BACKEND": "userflux_site.sharedcache.GuardedRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="uf"),
            "OPTIONS": {
                # Values are JSON, never pickles: a poisoned cache must not run code.
                "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
                # Redis answers in well under a millisecond: waiting longer only stalls calls.
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.25),
                "SOCKET_TIMEOUT": env.float("REDIS_TIMEOUT", default=0.25),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "userflux-site",
        }
    }

# After a Redis connection error or timeout, each process stops asking Redis for this long, then
# lets one call through as a probe (userflux_site/sharedcache.py).
REDIS_BREAKER_SECONDS = env.float("REDIS_BREAKER_SECONDS", default=5.0)

# Sign-in brute-force protection (django-axes, workspaces/login_guard.py): failed sign-ins on
# /login/ and /admin/login/ counted per (username, client address) in the database; at
# LOGIN_FAILURE_LIMIT failures the pair is locked for LOGIN_LOCKOUT_MINUTES (429 and a page
# saying so), the right password included. `manage.py axes_reset_username <name>` unlocks.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "workspaces.login_guard.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

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
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Messages go in the session, never in a cookie: a signed cookie is readable by the client.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "core.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "userflux-site API",
    "DESCRIPTION": "UserFlux-compatible Integration API and Metrics API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc assets are served from this site, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# CORS: only the ingestion API answers other origins (the browser SDKs); pages stay same-origin.
CORS_URLS_REGEX = r"^/(event/ingest(/batch)?|profile)/?$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ["authorization", "content-type"]
CORS_ALLOW_METHODS = ["POST", "OPTIONS"]
CORS_PREFLIGHT_MAX_AGE = 86400

# Key cache: how often each process compares the shared generation token (the fast path), and
# the hard bound after which a key snapshot is re-validated against the database, whatever
# the shared cache does (apikeys/keycache.py, docs/operations.md).
KEY_CACHE_REFRESH_SECONDS = env.float("KEY_CACHE_REFRESH_SECONDS", default=0.5)
KEY_CACHE_MAX_STALENESS_SECONDS = env.float("KEY_CACHE_MAX_STALENESS_SECONDS", default=5.0)

# Integration API limits.
INGEST_MAX_BODY_BYTES = env.int("INGEST_MAX_BODY_BYTES", default=1024 * 1024)
INGEST_MAX_BATCH_EVENTS = env.int("INGEST_MAX_BATCH_EVENTS", default=1000)
# Optional MaxMind-format database (GeoLite2-City…) for `locationEnrichment`: region and city.
# Empty: country only, from the data built into the `iptocc` package. Read at call time.
GEOIP_DATABASE = env.str("GEOIP_DATABASE", default="")
# Failed key attempts per client address before 429, and the window they are counted in.
AUTH_FAILURE_LIMIT = env.int("AUTH_FAILURE_LIMIT", default=20)
AUTH_FAILURE_WINDOW_SECONDS = env.int("AUTH_FAILURE_WINDOW_SECONDS", default=60)
# Optional per-key request rate (requests a minute, counted per process); 0 is off.
KEY_RATE_LIMIT_PER_MINUTE = env.int("KEY_RATE_LIMIT_PER_MINUTE", default=0)

# Key usage (apikeys.usage): counted in each process, flushed at most every USAGE_FLUSH_SECONDS.
USAGE_RECORDING = env.bool("USAGE_RECORDING", default=True)
USAGE_FLUSH_SECONDS = env.float("USAGE_FLUSH_SECONDS", default=10.0)
USAGE_RETENTION_DAYS = env.int("USAGE_RETENTION_DAYS", default=90)
USAGE_MAX_ADDRESSES_PER_KEY_DAY = env.int("USAGE_MAX_ADDRESSES_PER_KEY_DAY", default=1000)
USAGE_MAX_EVENT_NAMES_PER_KEY_DAY = env.int("USAGE_MAX_EVENT_NAMES_PER_KEY_DAY", default=1000)

# Metrics API.
METRICS_TOKEN_LIFETIME_SECONDS = env.int("METRICS_TOKEN_LIFETIME_SECONDS", default=15 * 60)
# Successful token exchanges a minute per Metrics key, across all processes (429 past it).
METRICS_TOKEN_EXCHANGES_PER_MINUTE = env.int("METRICS_TOKEN_EXCHANGES_PER_MINUTE", default=60)
METRICS_DATABASE_URL = env.str("METRICS_DATABASE_URL", default="")
METRICS_STATEMENT_TIMEOUT = env.float("METRICS_STATEMENT_TIMEOUT", default=10.0)
METRICS_ROW_CAP = env.int("METRICS_ROW_CAP", default=10_000)
METRICS_MAX_QUERY_LENGTH = env.int("METRICS_MAX_QUERY_LENGTH", default=100_000)
METRICS_MAX_RESULT_BYTES = env.int("METRICS_MAX_RESULT_BYTES", default=5 * 1024 * 1024)
# How much one query may cost the compiler (metrics/sql/limits.py); over any: 400.
METRICS_MAX_QUERY_NODES = env.int("METRICS_MAX_QUERY_NODES", default=20_000)
METRICS_MAX_QUERY_DEPTH = env.int("METRICS_MAX_QUERY_DEPTH", default=200)
METRICS_MAX_SELECT_ITEMS = env.int("METRICS_MAX_SELECT_ITEMS", default=500)
METRICS_MAX_PLACEHOLDERS = env.int("METRICS_MAX_PLACEHOLDERS", default=200)
METRICS_MAX_BOUND_BYTES = env.int("METRICS_MAX_BOUND_BYTES", default=1_000_000)
METRICS_COMPILE_TIMEOUT = env.float("METRICS_COMPILE_TIMEOUT", default=2.0)
# PostgreSQL memory for sorts and hashes, and temporary files, of one sandbox query.
METRICS_WORK_MEM = env.str("METRICS_WORK_MEM", default="16MB")
METRICS_TEMP_FILE_LIMIT = env.str("METRICS_TEMP_FILE_LIMIT", default="256MB")
# Fair share per workspace, across every process through Redis (metrics/fairshare.py); 0 is off.
METRICS_MAX_CONCURRENT_QUERIES = env.int("METRICS_MAX_CONCURRENT_QUERIES", default=4)
METRICS_RATE_PER_MINUTE = env.int("METRICS_RATE_PER_MINUTE", default=600)

# The production stack (deploy/serve.py; docs/operations.md "Processes").
# Sync workers of the web pool (ingestion, pages, admin); 0: one per core, at least 2.
SERVE_WEB_WORKERS = env.int("SERVE_WEB_WORKERS", default=0)
# Workers of the Metrics pool, and the threads (concurrent queries) in each.
SERVE_METRICS_WORKERS = env.int("SERVE_METRICS_WORKERS", default=2)
SERVE_METRICS_THREADS = env.int("SERVE_METRICS_THREADS", default=4)
# Where each pool listens, for nginx; port 0 is a free port of serve.py's choosing.
SERVE_WEB_BIND = env.str("SERVE_WEB_BIND", default="127.0.0.1:0")
SERVE_METRICS_BIND = env.str("SERVE_METRICS_BIND", default="127.0.0.1:0")
# Other hosts' pools that this host's nginx balances over too (host:port, comma-separated).
SERVE_WEB_UPSTREAMS = env.list("SERVE_WEB_UPSTREAMS", default=[])
SERVE_METRICS_UPSTREAMS = env.list("SERVE_METRICS_UPSTREAMS", default=[])
# TLS in nginx: a PEM certificate (chain) and its key; empty: plain HTTP (TLS ends in front).
SERVE_TLS_CERTIFICATE = env.str("SERVE_TLS_CERTIFICATE", default="")
SERVE_TLS_KEY = env.str("SERVE_TLS_KEY", default="")
# A directory for the stack's log files; empty: every log to serve.py's stdout and stderr.
SERVE_LOG_DIR = env.str("SERVE_LOG_DIR", default="")
# Retry-After, in seconds, of a 503 answered while the database cannot be reached.
UNAVAILABLE_RETRY_AFTER_SECONDS = env.int("UNAVAILABLE_RETRY_AFTER_SECONDS", default=5)

# Production hardening: on whenever DEBUG is off, each switchable for a plain-HTTP benchmark.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "core.redaction.RedactSecretsFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # django.request logs whole requests on errors; keep it behind the same filter.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
