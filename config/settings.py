"""Anchorage settings. Everything that differs between machines comes from the environment."""

from __future__ import annotations

import json

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    data_dir,
    env_bool,
    env_int,
    env_list,
    env_str,
    persistent_secret,
)

# Lets admin.ModelAdmin[Model] and friends be subscripted at run time, as the type hints do.
django_stubs_ext.monkeypatch()

ENVIRONMENT = env_str("ANCHORAGE_ENV", "development")
PRODUCTION = ENVIRONMENT == "production"
DATA_DIR = data_dir()

SECRET_KEY = persistent_secret("secret_key", "SECRET_KEY", production=PRODUCTION, nbytes=48)
# The key-encryption key: seals CA keys and shared secrets at rest (pki.crypto.sealing).
ANCHORAGE_KEK = persistent_secret("kek", "ANCHORAGE_KEK", production=PRODUCTION)

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "guardian",
    "accounts",
    "audit",
    "pki",
    "approvals",
    "truststores",
    "truststores.estate",
    "enrollment",
    "enrollment.acme",
    "enrollment.cmp",
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "console.middleware.SecurityHeadersMiddleware",
    "console.middleware.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.navigation",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE: a writer takes the lock when its transaction starts, so the audit chain
    # and approval counts serialise instead of failing on a lock upgrade.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30}
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth ---------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:dashboard"
LOGOUT_REDIRECT_URL = "console:login"
GUARDIAN_RAISE_403 = True
ANONYMOUS_USER_NAME = None

# --- i18n / static ------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve straight from the apps' static folders when collectstatic has not run.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- security -----------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# A console session lasts a working day, not Django's two weeks.
SESSION_COOKIE_AGE = env_int("ANCHORAGE_SESSION_SECONDS", 8 * 3600)
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    # nginx terminates TLS (deploy/) and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^ocsp/", r"^crl/", r"^ca/"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["config.api.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Anchorage API",
    "DESCRIPTION": "PKI and trust-store control plane",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema is for integrators holding a token, like the rest of the API.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# --- Celery -------------------------------------------------------------------------------
_broker_dir = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", env_str("REDIS_URL", "filesystem://localhost/"))
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("in", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    # One folder for in and out: the broker is the folder, no server needed.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "in"),
        "data_folder_out": str(_broker_dir / "in"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# A web request that queues work after its commit must not hang on a broker that is down:
# fail fast (the beat-driven relay and retries pick the work up later).
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "outbox-relay": {
        "task": "audit.tasks.relay_outbox",
        "schedule": float(env_int("ANCHORAGE_OUTBOX_RELAY_SECONDS", 5)),
    },
    "approvals-requeue-stalled": {
        "task": "approvals.tasks.requeue_stalled",
        "schedule": 60.0,
    },
}

# --- Anchorage ----------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
# State every web process must share (login throttling now; ACME nonces later): Redis when
# there is one, else files under the data directory (the embedded default).
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "anchorage",
        }
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    )
}
ANCHORAGE_LOGIN_MAX_FAILURES = env_int("ANCHORAGE_LOGIN_MAX_FAILURES", 5)
ANCHORAGE_LOGIN_LOCKOUT_SECONDS = env_int("ANCHORAGE_LOGIN_LOCKOUT_SECONDS", 900)
ANCHORAGE_WEBHOOK_TIMEOUT = float(env_int("ANCHORAGE_WEBHOOK_TIMEOUT", 5))
ANCHORAGE_WEBHOOK_MAX_ATTEMPTS = env_int("ANCHORAGE_WEBHOOK_MAX_ATTEMPTS", 12)
ANCHORAGE_WEBHOOK_BACKOFF_SECONDS = float(env_str("ANCHORAGE_WEBHOOK_BACKOFF_SECONDS", "2"))

# --- EST (enrollment.est) -------------------------------------------------------------------
# The TLS proxies (nginx) whose client-certificate header is believed: addresses or networks.
ANCHORAGE_TRUSTED_PROXIES = env_list("ANCHORAGE_TRUSTED_PROXIES", ["127.0.0.1", "::1"])
# The header the proxy passes the URL-escaped PEM client certificate in ($ssl_client_escaped_cert).
ANCHORAGE_EST_CLIENT_CERT_HEADER = "HTTP_" + env_str(
    "ANCHORAGE_EST_CLIENT_CERT_HEADER", "X-SSL-Client-Cert"
).upper().replace("-", "_")
ANCHORAGE_EST_REALM = env_str("ANCHORAGE_EST_REALM", "anchorage-est")
# Enrollments at once across all web processes (per process without Redis); past it, 503.
ANCHORAGE_EST_MAX_CONCURRENT = env_int("ANCHORAGE_EST_MAX_CONCURRENT", 16)
ANCHORAGE_EST_SLOT_TTL = env_int("ANCHORAGE_EST_SLOT_TTL", 60)  # a lost slot ages out
ANCHORAGE_EST_RETRY_AFTER = env_int("ANCHORAGE_EST_RETRY_AFTER", 5)
# Failed Basic logins per username and address before refusing (429) for the lock-out.
ANCHORAGE_EST_MAX_FAILURES = env_int("ANCHORAGE_EST_MAX_FAILURES", 10)
ANCHORAGE_EST_LOCKOUT_SECONDS = env_int("ANCHORAGE_EST_LOCKOUT_SECONDS", 300)
# How long a one-time browser onboarding link stays open (enrollment.onboarding_links).
ANCHORAGE_ONBOARDING_LINK_MINUTES = env_int("ANCHORAGE_ONBOARDING_LINK_MINUTES", 60)

# --- CMP (enrollment.cmp, RFC 9483) -------------------------------------------------------
# How far a request's messageTime may be from ours (badTime beyond it).
ANCHORAGE_CMP_MAX_SKEW_SECONDS = env_int("ANCHORAGE_CMP_MAX_SKEW_SECONDS", 300)
# How long an issued certificate waits for certConf before it is revoked (RFC 9483 §4.1.1).
ANCHORAGE_CMP_CONFIRM_SECONDS = env_int("ANCHORAGE_CMP_CONFIRM_SECONDS", 300)
# How long a senderNonce is remembered (replay protection); at least twice the skew.
ANCHORAGE_CMP_NONCE_SECONDS = env_int("ANCHORAGE_CMP_NONCE_SECONDS", 86400)
# Days a CMP protection certificate lives (renewed when a third of it remains).
ANCHORAGE_CMP_PROTECTION_DAYS = env_int("ANCHORAGE_CMP_PROTECTION_DAYS", 90)

# --- PKI -----------------------------------------------------------------------------------
# Key backends by alias (pki.crypto.backends): JSON in ANCHORAGE_KEY_BACKENDS, e.g.
# {"hsm": {"BACKEND": "pki.crypto.backends.pkcs11.Pkcs11Backend", "OPTIONS": {...}}}.
# "default" (software keys sealed with the KEK) is always there unless overridden.
ANCHORAGE_KEY_BACKENDS = {
    "default": {"BACKEND": "pki.crypto.backends.software.SoftwareBackend", "OPTIONS": {}},
    **json.loads(env_str("ANCHORAGE_KEY_BACKENDS", "{}")),
}
# Where relying parties reach us: the base of the CRL, OCSP and caIssuers URLs we put in
# certificates (RFC 5280 §4.2.1.13, §4.2.2.1). Plain HTTP is right for these (RFC 5280 §8).
ANCHORAGE_PUBLIC_URL = env_str("ANCHORAGE_PUBLIC_URL", "http://localhost:8000").rstrip("/")
# A domain's local, auto-generated root + issuing CA without a ceremony: for test set-ups and
# the demo only; off in production.
ANCHORAGE_LOCAL_PKI = env_bool("ANCHORAGE_LOCAL_PKI", not PRODUCTION)

# --- OCSP (pki.services.ocsp, the responder process pki.ocsp.server) ------------------------
# Responses are signed ahead of time and served from the table; a response is valid for
# VALIDITY and re-signed when its nextUpdate is nearer than REFRESH. The delegated responder
# certificate lives RESPONDER_DAYS and is renewed with a third of its life left.
ANCHORAGE_OCSP_VALIDITY_SECONDS = env_int("ANCHORAGE_OCSP_VALIDITY_SECONDS", 86400)
ANCHORAGE_OCSP_REFRESH_SECONDS = env_int(
    "ANCHORAGE_OCSP_REFRESH_SECONDS", ANCHORAGE_OCSP_VALIDITY_SECONDS // 2
)
ANCHORAGE_OCSP_RESPONDER_DAYS = env_int("ANCHORAGE_OCSP_RESPONDER_DAYS", 7)
# Cache-Control max-age of GET answers (RFC 5019 §6.2): until nextUpdate, at most this, so a
# CDN does not hide a revocation for longer.
ANCHORAGE_OCSP_MAX_AGE_SECONDS = env_int("ANCHORAGE_OCSP_MAX_AGE_SECONDS", 600)
ANCHORAGE_OCSP_BATCH = env_int("ANCHORAGE_OCSP_BATCH", 500)  # responses signed per transaction
# The responder process: requests waiting for the database at once before it answers tryLater.
ANCHORAGE_OCSP_MAX_PENDING = env_int("ANCHORAGE_OCSP_MAX_PENDING", 64)
# ...and the pre-signed responses each of its workers keeps in memory (about 1 kB each).
ANCHORAGE_OCSP_CACHE_SIZE = env_int("ANCHORAGE_OCSP_CACHE_SIZE", 100_000)
CELERY_BEAT_SCHEDULE["cmp-expire-unconfirmed"] = {
    "task": "enrollment.cmp.tasks.expire_unconfirmed",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["ocsp-renew-responders"] = {
    "task": "pki.tasks.ocsp.renew_responders",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["ocsp-refresh-responses"] = {
    "task": "pki.tasks.ocsp.refresh_responses",
    "schedule": float(env_int("ANCHORAGE_OCSP_REFRESH_EVERY_SECONDS", 300)),
}

# --- CRLs (RFC 5280 §5; pki.services.crls) --------------------------------------------------
# A complete CRL every interval, a delta CRL every delta period, and both again this many
# seconds after revocations (debounced). nextUpdate lies well after the next planned CRL.
ANCHORAGE_CRL_INTERVAL_SECONDS = env_int("ANCHORAGE_CRL_INTERVAL_SECONDS", 3600)
ANCHORAGE_CRL_DELTA_SECONDS = env_int("ANCHORAGE_CRL_DELTA_SECONDS", 300)
ANCHORAGE_CRL_DEBOUNCE_SECONDS = env_int("ANCHORAGE_CRL_DEBOUNCE_SECONDS", 5)
ANCHORAGE_CRL_VALIDITY_SECONDS = env_int(
    "ANCHORAGE_CRL_VALIDITY_SECONDS", 2 * ANCHORAGE_CRL_INTERVAL_SECONDS + 3600
)
CELERY_BEAT_SCHEDULE["crl-publish-due"] = {
    "task": "pki.tasks.crls.publish_due",
    "schedule": float(min(60, ANCHORAGE_CRL_DELTA_SECONDS)),
}

# --- truststores (truststores.deploy, truststores.tasks) -----------------------------------
# An approved request whose swap message was lost is queued again by beat after this long.
ANCHORAGE_TRUSTSTORE_REQUEUE_SECONDS = env_int("ANCHORAGE_TRUSTSTORE_REQUEUE_SECONDS", 120)
CELERY_BEAT_SCHEDULE["truststores-requeue-approved"] = {
    "task": "truststores.tasks.requeue_approved",
    "schedule": 60.0,
    "kwargs": {"older_than_seconds": ANCHORAGE_TRUSTSTORE_REQUEUE_SECONDS},
}
# --- trust across the estate (truststores.estate) ------------------------------------------
# The drift job compares every consumer's last report with its list this often; a consumer
# without a report for ANCHORAGE_ESTATE_STALE_HOURS has a stale_report finding.
ANCHORAGE_ESTATE_DRIFT_SECONDS = env_int("ANCHORAGE_ESTATE_DRIFT_SECONDS", 900)
ANCHORAGE_ESTATE_STALE_HOURS = env_int("ANCHORAGE_ESTATE_STALE_HOURS", 48)
CELERY_BEAT_SCHEDULE["estate-detect-drift"] = {
    "task": "truststores.estate.tasks.detect_drift",
    "schedule": float(ANCHORAGE_ESTATE_DRIFT_SECONDS),
}
# Removal plans (truststores.estate.removal): due steps (notifications, verification, the
# removal's proposal, monitoring) run this often; the task module is not a tasks.py.
ANCHORAGE_ESTATE_REMOVAL_SECONDS = env_int("ANCHORAGE_ESTATE_REMOVAL_SECONDS", 300)
CELERY_IMPORTS = ["truststores.estate.removal_tasks"]
CELERY_BEAT_SCHEDULE["estate-run-due-removals"] = {
    "task": "truststores.estate.removal_tasks.run_due_removals",
    "schedule": float(ANCHORAGE_ESTATE_REMOVAL_SECONDS),
}
# A request body may carry a 5 MB bundle (pki.crypto.bundles.MAX_BYTES) as base64 in JSON
# (4/3 of it, plus the other fields); larger bodies get 400 too_large before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("ANCHORAGE_MAX_BODY_BYTES", 8 * 1024 * 1024)

# --- ACME (enrollment.acme) ------------------------------------------------------------------
# Where challenge checks connect (RFC 8555 §8.3, RFC 8737 §3): the RFC's ports by default;
# tests and private networks move them, as Pebble allows.
ANCHORAGE_ACME_HTTP01_PORT = env_int("ANCHORAGE_ACME_HTTP01_PORT", 80)
ANCHORAGE_ACME_TLSALPN01_PORT = env_int("ANCHORAGE_ACME_TLSALPN01_PORT", 443)
# "demo.test=127.0.0.1,other.test=10.0.0.5": names under a suffix resolve to its address.
ANCHORAGE_ACME_RESOLVE = {
    suffix.strip().lower().strip("."): address.strip()
    for suffix, _, address in (
        item.partition("=") for item in env_list("ANCHORAGE_ACME_RESOLVE", []) if "=" in item
    )
}
# dns-01 TXT lookups: "host:port" of a recursive resolver; default /etc/resolv.conf's first.
ANCHORAGE_ACME_DNS_RESOLVER = env_str("ANCHORAGE_ACME_DNS_RESOLVER", "")
# New orders an ACME account may create an hour (0: no limit); more answer rateLimited (429).
ANCHORAGE_ACME_ORDERS_PER_HOUR = env_int("ANCHORAGE_ACME_ORDERS_PER_HOUR", 300)
CELERY_BEAT_SCHEDULE["acme-requeue-stalled"] = {
    "task": "enrollment.acme.tasks.requeue_stalled",
    "schedule": 60.0,
}
# Benchmark only: challenges pass without a check. Production refuses to start with it.
ANCHORAGE_ACME_BENCH_SKIP_VALIDATION = env_bool("ANCHORAGE_ACME_BENCH_SKIP_VALIDATION", False)
if ANCHORAGE_ACME_BENCH_SKIP_VALIDATION and PRODUCTION:
    raise ImproperlyConfigured("ANCHORAGE_ACME_BENCH_SKIP_VALIDATION is refused in production")

# --- logging ------------------------------------------------------------------------------
LOG_FORMAT = env_str("ANCHORAGE_LOG_FORMAT", "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": env_str("ANCHORAGE_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
