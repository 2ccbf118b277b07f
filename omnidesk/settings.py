"""Settings for omnidesk: environment variables with safe defaults (docs/configuration.md)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("OMNIDESK_DATA_DIR", Path.cwd() / "omnidesk-data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data directory."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        from django.core.management.utils import get_random_secret_key

        path.write_text(get_random_secret_key())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("OMNIDESK_DEBUG", "") == "1"
PUBLIC_URL = os.environ.get(
    "PUBLIC_URL", f"http://127.0.0.1:{os.environ.get('OMNIDESK_PORT', '8000')}"
).rstrip("/")
_PUBLIC = urlsplit(PUBLIC_URL)
PUBLIC_ORIGIN = f"{_PUBLIC.scheme}://{_PUBLIC.netloc}"
PUBLIC_HTTPS = _PUBLIC.scheme == "https"


def _public_hosts() -> list[str]:
    """PUBLIC_URL's host, and the loopback names the machine itself uses (health checks, the CLI)."""
    host = _PUBLIC.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal, as the Host header carries it
    return list(dict.fromkeys([host, "localhost", "127.0.0.1", "[::1]"]))


# Derived from PUBLIC_URL unless given: the agent socket's origin check reads it (realtime/origins.py), so `*`
# would let any site's page open an agent's socket. ALLOWED_HOSTS=* still says "any", explicitly.
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()
] or _public_hosts()
CSRF_TRUSTED_ORIGINS = [PUBLIC_ORIGIN]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "channels",
    "axes",
    "csp",
    "omnidesk.accounts",
    "omnidesk.contacts",
    "omnidesk.inboxes",
    "omnidesk.conversations",
    "omnidesk.ingest",
    "omnidesk.connectors",
    "omnidesk.realtime",
    "omnidesk.web",
    "omnidesk.routing",
    "omnidesk.sla",
    "omnidesk.analytics",
    "omnidesk.knowledge",
    "omnidesk.bot",
    "omnidesk.surveys",
    "omnidesk.automation",
    "omnidesk.helpcenter",
    "omnidesk.connectors.webchat",
    "omnidesk.apps.OmnideskConfig",  # last: wires the reactions once every app is ready
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "omnidesk.accounts.middleware.AgentLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in anywhere into the translated refusal.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "omnidesk.urls"
ASGI_APPLICATION = "omnidesk.asgi.application"
WSGI_APPLICATION = "omnidesk.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    }
]

# --- database ---------------------------------------------------------------------------------
# Embedded mode: SQLite in WAL mode in the data directory. IMMEDIATE transactions take the write
# lock up front, so two writers queue instead of failing on a lock upgrade. synchronous=NORMAL in
# WAL mode survives a process crash (the case we promise); see docs/decisions/0001-foundation.md.
_SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
        "PRAGMA busy_timeout=20000; PRAGMA cache_size=-20000;"
    ),
}
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "omnidesk.db.sqlite",  # Django's SQLite backend, waiting for the write lock in short steps
            "NAME": DATA_DIR / "omnidesk.sqlite3",
            "OPTIONS": _SQLITE_OPTIONS,
        }
    }
if DATABASES["default"]["ENGINE"] in ("django.db.backends.sqlite3", "omnidesk.db.sqlite"):
    DATABASES["default"]["ENGINE"] = "omnidesk.db.sqlite"
    DATABASES["default"].setdefault("OPTIONS", {}).update(_SQLITE_OPTIONS)
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
    # The inbound journal in a file of its own, with its own write lock: acknowledging webhooks never
    # waits for the spine's transactions (docs/decisions/0005-inbound-journal.md). On PostgreSQL it is
    # a table of the one database, and entries are deleted in the transaction that stores them.
    _main = Path(DATABASES["default"]["NAME"])
    DATABASES["journal"] = {
        **DATABASES["default"],
        "NAME": _main.with_name(f"{_main.stem}-inbound{_main.suffix}"),
        "TEST": {"NAME": str(DATA_DIR / "test-inbound.sqlite3")},
    }
DATABASE_ROUTERS = ["omnidesk.ingest.journal.JournalRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- background jobs ----------------------------------------------------------------------------
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "deliver", "inbound"],
    }
}

# --- realtime -----------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
IN_MEMORY_CHANNEL_LAYER = {
    "BACKEND": "omnidesk.realtime.layers.SingleProcessChannelLayer",
    "CONFIG": {"capacity": 20_000, "expiry": 300},
}
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # A prefix of its own lets several omnidesk installations (or test runs) share one Redis.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ.get("OMNIDESK_REDIS_PREFIX", "omnidesk")},
        }
    }
else:
    # channels' in-memory layer, expiring once a second rather than scanning every channel on each send
    # (omnidesk/realtime/layers.py). It silently drops what does not fit a channel's queue (default 100)
    # or waits longer than `expiry` (60 s): one agent socket hears every message of every inbox
    # (message.created, conversation.updated, ...), so at 100 chat messages a second the defaults lost
    # most of them. The Redis pub/sub layer above queues without a bound, so it has no such setting.
    CHANNEL_LAYERS = {"default": IN_MEMORY_CHANNEL_LAYER}

# Rate limits (help center, API throttle) count in the cache: shared between processes only on Redis.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("OMNIDESK_REDIS_PREFIX", "omnidesk"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- auth ---------------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:conversations"
LOGIN_MAX_FAILURES = int(os.environ.get("OMNIDESK_LOGIN_MAX_FAILURES", "5"))
LOGIN_LOCKOUT_SECONDS = int(os.environ.get("OMNIDESK_LOGIN_LOCKOUT_SECONDS", "900"))
# Sign-in lockout is django-axes (docs/decisions/0020-sign-in-lockout.md): its backend goes first, so every
# authenticate() call (the workspace's /login/, /admin/login/, the second factor) counts against one account.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = (
    "axes.handlers.database.AxesDatabaseHandler"  # SQLite and PostgreSQL alike, shared by all processes
)
AXES_LOCKOUT_PARAMETERS = [
    "username"
]  # per account, from any address: the reproduction came from one address
AXES_FAILURE_LIMIT = "omnidesk.accounts.lockout.failure_limit"  # LOGIN_MAX_FAILURES, read per request
AXES_COOLOFF_TIME = "omnidesk.accounts.lockout.cool_off"  # LOGIN_LOCKOUT_SECONDS, read per request
AXES_RESET_ON_SUCCESS = True  # "in a row": a successful sign-in forgets earlier failures
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # tries while locked neither count nor extend the lock
AXES_LOCKOUT_CALLABLE = "omnidesk.web.signin.lockout_response"
AXES_USERNAME_FORM_FIELD = "username"
AXES_DISABLE_ACCESS_LOG = True  # the audit log already records sign-ins (auth.login)
AXES_VERBOSE = False
# Failed sign-ins (passwords and codes, any username) per address (an IPv6 /64), against password spraying across
# many accounts: django-ratelimit's "count/period" in the cache (Redis: shared by all web processes).
LOGIN_ADDRESS_RATE = os.environ.get("OMNIDESK_LOGIN_ADDRESS_RATE", "30/10m")
RATELIMIT_FAIL_OPEN = True  # a cache that is down must not stop everyone from signing in
# axes.W006 asks for the address as a lockout parameter too; by username alone, rotating addresses, agents or
# cookies changes nothing, and locking an address would lock a whole office behind one NAT after 5 typos.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- transport and browser security (docs/security.md) ---------------------------------------------
# Behind HTTPS (PUBLIC_URL https://…) the proxy in front terminates TLS and must set X-Forwarded-Proto; cookies
# then travel only over HTTPS and browsers are told to stay on HTTPS (HSTS).
if PUBLIC_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("OMNIDESK_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("OMNIDESK_HSTS_INCLUDE_SUBDOMAINS", "") == "1"
    SECURE_HSTS_PRELOAD = os.environ.get("OMNIDESK_HSTS_PRELOAD", "") == "1"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every page (django-csp; decision 0021): scripts and styles only from files of this
# site, no inline code, no eval, nothing frames our pages. The widget's own files are loaded by customers' pages
# under *their* policy, which must allow PUBLIC_URL (docs/widget.md).
_WS_ORIGIN = ("wss://" if PUBLIC_HTTPS else "ws://") + _PUBLIC.netloc
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, PUBLIC_ORIGIN],
        "style-src": [SELF, PUBLIC_ORIGIN],
        "img-src": [SELF, PUBLIC_ORIGIN, "data:", "blob:"],
        "media-src": [SELF, PUBLIC_ORIGIN, "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF, PUBLIC_ORIGIN, _WS_ORIGIN],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- languages ----------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("zh-hans", _("Simplified Chinese")),
    ("zh-hant", _("Traditional Chinese")),
    ("it", _("Italian")),
    ("pl", _("Polish")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# --- files --------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "/media/"
# How long a signed attachment link (chat visitors, API clients) works (conversations/attachments.py).
OMNIDESK_ATTACHMENT_LINK_SECONDS = int(os.environ.get("OMNIDESK_ATTACHMENT_LINK_SECONDS", "3600"))
MEDIA_ROOT = DATA_DIR / "media"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- the product ------------------------------------------------------------------------------
# How long after its last message an open or pending conversation still takes a new message from
# the same contact on any channel (ARCHITECTURE §3, continuity).
CONTINUITY_WINDOW_HOURS = int(os.environ.get("OMNIDESK_CONTINUITY_WINDOW_HOURS", "72"))
# Outbound delivery: attempts before a transient failure becomes permanent, and the backoff base.
DELIVERY_MAX_ATTEMPTS = int(os.environ.get("OMNIDESK_DELIVERY_MAX_ATTEMPTS", "6"))
DELIVERY_BACKOFF_SECONDS = float(os.environ.get("OMNIDESK_DELIVERY_BACKOFF_SECONDS", "5"))
DELIVERY_BACKOFF_MAX_SECONDS = float(os.environ.get("OMNIDESK_DELIVERY_BACKOFF_MAX_SECONDS", "3600"))
# Key for secrets stored in the database (Fernet); derived from SECRET_KEY unless given.
OMNIDESK_FERNET_KEY = os.environ.get("OMNIDESK_FERNET_KEY", "")
# Campaign messages a second through an inbox whose provider limit is not set on screen (docs/automation.md).
OMNIDESK_CAMPAIGN_RATE = float(os.environ.get("OMNIDESK_CAMPAIGN_RATE", "10"))
# The webhook route keeps enabled inboxes' connectors this long between requests (ingest/webhooks.py).
OMNIDESK_CONNECTOR_CACHE_SECONDS = float(os.environ.get("OMNIDESK_CONNECTOR_CACHE_SECONDS", "2"))
# In a burst of webhooks the journal's consumer lets acknowledgements go first for at most this long
# (ingest/journal.py, decision 0005).
OMNIDESK_JOURNAL_BURST_DELAY = float(os.environ.get("OMNIDESK_JOURNAL_BURST_DELAY", "5"))
# The chat widget's rate limits, (messages per minute, burst) per visitor, per address, and for new
# connections per address: OMNIDESK_WIDGET_<NAME>_PER_MINUTE and OMNIDESK_WIDGET_<NAME>_BURST.
OMNIDESK_WIDGET_LIMITS = {
    name: (
        float(os.environ.get(f"OMNIDESK_WIDGET_{name.upper()}_PER_MINUTE", per_minute)),
        int(os.environ.get(f"OMNIDESK_WIDGET_{name.upper()}_BURST", burst)),
    )
    for name, (per_minute, burst) in {"visitor": (20, 10), "ip": (120, 60), "connect": (60, 30)}.items()
}
# The processes' knobs (omnidesk/cli.py; docs/configuration.md). Command-line options win over these.
OMNIDESK_HOST = os.environ.get("OMNIDESK_HOST", "127.0.0.1")
OMNIDESK_PORT = int(os.environ.get("OMNIDESK_PORT", "8000"))
OMNIDESK_WORKERS = int(os.environ.get("OMNIDESK_WORKERS", "2"))
OMNIDESK_WORKER_INTERVAL = float(os.environ.get("OMNIDESK_WORKER_INTERVAL", "0.2"))
OMNIDESK_WORKER_NICE = int(os.environ.get("OMNIDESK_WORKER_NICE", "10"))
# How often the journal's consumer looks for work when nothing woke it: serve's web process wakes it after
# every commit, `omnidesk worker` (scale-out) has no such wake-up and polls more often.
OMNIDESK_JOURNAL_POLL = (
    float(os.environ["OMNIDESK_JOURNAL_POLL"]) if os.environ.get("OMNIDESK_JOURNAL_POLL") else None
)
OMNIDESK_JOURNAL_NICE = int(os.environ.get("OMNIDESK_JOURNAL_NICE", "5"))
OMNIDESK_UVICORN_LOG_LEVEL = os.environ.get("OMNIDESK_UVICORN_LOG_LEVEL", "warning")
OMNIDESK_WS_DEFLATE = os.environ.get("OMNIDESK_WS_DEFLATE", "0") == "1"
# `omnidesk createadmin --no-input` takes the password from here when --password is not given.
OMNIDESK_ADMIN_PASSWORD = os.environ.get("OMNIDESK_ADMIN_PASSWORD", "")
# bench/ingest only: adds /hooks/_null/..., which answers webhooks without storing them (the ceiling).
OMNIDESK_BENCH_ROUTES = os.environ.get("OMNIDESK_BENCH_ROUTES", "") == "1"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("OMNIDESK_LOG_LEVEL", "INFO")},
    "loggers": {
        "django_tasks_db": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
    },
}
