"""Settings for the Browser Use dashboard.

Every value comes from the one `env` below: the process environment first, then a `.env` file beside
manage.py. Development defaults are safe for a laptop; `DASHBOARD_ENV=production` turns on the checks
that make a deployment refuse to start when it is misconfigured.
"""

import re
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DASHBOARD_ENV = env.str("DASHBOARD_ENV", default="development")
if DASHBOARD_ENV not in ("development", "production"):
    raise ImproperlyConfigured(f"DASHBOARD_ENV must be 'development' or 'production', not {DASHBOARD_ENV!r}.")
PRODUCTION = DASHBOARD_ENV == "production"

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when DASHBOARD_ENV=production.")


def _development_secret_key() -> str:
    # A random key kept in a git-ignored file, so that logins survive restarts without a literal key in code.
    path = BASE_DIR / ".dev-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a random value of at least 50 characters when DASHBOARD_ENV=production "
            '(for example: python -c "import secrets; print(secrets.token_urlsafe(50))").'
        )
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _development_secret_key()

# Keys for encrypted model fields (team API keys, stored secrets), newest first: the first encrypts, all
# decrypt, so a key is rotated by putting a new one in front. The derived keys also depend on SECRET_KEY
# (and SECRET_KEY_FALLBACKS), so rotate that one the same way.
SALT_KEY = env.list("FIELD_ENCRYPTION_KEYS", default=[] if PRODUCTION else ["development-only-field-key"])
if not SALT_KEY:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS must hold at least one random value when DASHBOARD_ENV=production; it encrypts API keys "
        "and secrets at rest."
    )
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the dashboard's host names when DASHBOARD_ENV=production.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "django_htmx",
    "django_tasks_db",
    "axes",
    "tasks_ui",
    "tasks_ui.sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires, so that it gets the outcome of every login attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
FORM_RENDERER = "tasks_ui.forms.DashboardFormRenderer"
WSGI_APPLICATION = "dashboard.wsgi.application"

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
                "django.template.context_processors.csp",
                "tasks_ui.context_processors.api_mode",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and a db_worker share the file without "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling by django-axes: after 5 failed passwords for one username from one address, that pair
# is locked out for 15 minutes. A successful login resets the count.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_VERBOSE = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tasks_ui:history"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Security. Production turns on HTTPS-only cookies and HSTS; behind a TLS-terminating proxy set
# SECURE_PROXY_SSL_HEADER_NAME (usually HTTP_X_FORWARDED_PROTO) so that Django gets the original scheme.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if proxy_header := env.str("SECURE_PROXY_SSL_HEADER_NAME", default=""):
    SECURE_PROXY_SSL_HEADER = (proxy_header, "https")

# A session's live view (its liveUrl) is framed from this origin. Anyone who opens it controls the browser,
# so no other outside origin may be framed. The sandbox's simulated live view is served by this site ('self').
BROWSER_USE_LIVE_VIEW_ORIGIN = env.str("BROWSER_USE_LIVE_VIEW_ORIGIN", default="https://live.browser-use.com").rstrip("/")
if not re.fullmatch(r"https://[A-Za-z0-9.-]+(:\d+)?", BROWSER_USE_LIVE_VIEW_ORIGIN):
    raise ImproperlyConfigured(
        f"BROWSER_USE_LIVE_VIEW_ORIGIN must be an https origin such as https://live.browser-use.com, "
        f"without a path, not {BROWSER_USE_LIVE_VIEW_ORIGIN!r}."
    )

# Scripts and styles come from this origin only. Step screenshots of the real API are served from its
# storage host, so images may come from any HTTPS origin.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "https:"],
    "frame-src": [CSP.SELF, BROWSER_USE_LIVE_VIEW_ORIGIN],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

# Browser Use Cloud. Without an API key the dashboard talks to its built-in sandbox, which simulates the
# v2 API and stores its state in this database.
BROWSER_USE_API_KEY = env.str("BROWSER_USE_API_KEY", default="")
BROWSER_USE_BASE_URL = env.str("BROWSER_USE_BASE_URL", default="https://api.browser-use.com/api/v2")
BROWSER_USE_TIMEOUT_SECONDS = env.float("BROWSER_USE_TIMEOUT_SECONDS", default=30.0)
BROWSER_USE_CONNECT_TIMEOUT_SECONDS = env.float("BROWSER_USE_CONNECT_TIMEOUT_SECONDS", default=10.0)
# A run's status is read from the API at most once per this many seconds, however many tabs show it.
STATUS_REFRESH_SECONDS = env.float("STATUS_REFRESH_SECONDS", default=2.0)
SANDBOX_API_KEY = "bu_sandbox"
# Seconds the sandbox takes per simulated agent step.
SANDBOX_STEP_SECONDS = env.float("SANDBOX_STEP_SECONDS", default=1.5)
# Active sessions the sandbox allows at once before it returns the capacity 429.
SANDBOX_CONCURRENT_SESSION_LIMIT = env.int("SANDBOX_CONCURRENT_SESSION_LIMIT", default=25)

# Batches: the worker takes one step per batch every BATCH_TICK_SECONDS, makes at most
# BATCH_REQUESTS_PER_STEP API calls per step, waits BATCH_CAPACITY_RETRY_SECONDS after a capacity 429
# without Retry-After, and assumes BATCH_FALLBACK_CONCURRENCY sessions when the account cannot be read.
BATCH_TICK_SECONDS = env.float("BATCH_TICK_SECONDS", default=1.0)
BATCH_REQUESTS_PER_STEP = env.int("BATCH_REQUESTS_PER_STEP", default=20)
BATCH_CAPACITY_RETRY_SECONDS = env.float("BATCH_CAPACITY_RETRY_SECONDS", default=5.0)
BATCH_FALLBACK_CONCURRENCY = env.int("BATCH_FALLBACK_CONCURRENCY", default=5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "tasks_ui": {"level": env.str("LOG_LEVEL", default="INFO"), "propagate": True},
        # httpx logs every request URL at INFO; keep it quiet so no request line is written by accident.
        "httpx": {"level": "WARNING"},
    },
}
