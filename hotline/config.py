"""Configuration: environment first, then `instance/hotline.cfg`, then these defaults.

Every 12345 limit and weight is configuration (DOMAIN.md): the defaults below are
Guangdong's handling limits and may be overridden per city in the instance file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# A limit is {"amount": n, "unit": u}; units: working_days (counted from the day
# after the start, 次日起算), hours / minutes (calendar time), office_hours (the
# configured working day only).
DEFAULT_HANDLING_LIMITS: dict[str, dict[str, Any]] = {
    "consult": {"amount": 2, "unit": "working_days"},
    "help": {"amount": 10, "unit": "working_days"},
    "suggestion": {"amount": 10, "unit": "working_days"},
    "complaint": {"amount": 15, "unit": "working_days"},
    "report": {"amount": 15, "unit": "working_days"},
    "praise": {"amount": 2, "unit": "working_days"},
}
# Urgency overrides the type's limit where present.
DEFAULT_URGENCY_HANDLING_LIMITS: dict[str, dict[str, Any]] = {
    "emergency": {"amount": 2, "unit": "hours"},
    "utilities": {"amount": 24, "unit": "hours"},
}
DEFAULT_SIGN_LIMITS: dict[str, dict[str, Any]] = {
    "emergency": {"amount": 15, "unit": "minutes"},
    "utilities": {"amount": 30, "unit": "minutes"},
    "general": {"amount": 1, "unit": "working_days"},
    "complex": {"amount": 1, "unit": "working_days"},
}
DEFAULT_SEND_BACK_LIMITS: dict[str, dict[str, Any]] = {
    "default": {"amount": 1, "unit": "working_days"},
    "complex": {"amount": 2, "unit": "working_days"},
}


class Config:
    """Defaults; `load_config` overlays the instance file and the environment."""

    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}
    # SQLite only: memory-mapped reads and each connection's page cache.
    SQLITE_MMAP_BYTES = 256 * 1024 * 1024
    SQLITE_CACHE_KIB = 32 * 1024
    REDIS_URL: str | None = None
    # None: the web process starts the embedded Redis (`make run`); a URL: use it.
    PII_KEY: str | None = None
    PII_LOOKUP_KEY: str | None = None
    AUDIT_KEY: str | None = None
    TWILIO_ACCOUNT_SID: str | None = None
    TWILIO_AUTH_TOKEN: str | None = None
    TWILIO_NUMBER: str | None = None
    PUBLIC_BASE_URL: str | None = None
    # The agents' browser phone (Twilio Voice SDK): an API key pair and a TwiML App.
    TWILIO_API_KEY: str | None = None
    TWILIO_API_SECRET: str | None = None
    TWILIO_TWIML_APP_SID: str | None = None

    CITY_NAME = "江门市"
    CITY_ADCODE = "440700"
    CITY_AREA_CODE = "0750"
    TIMEZONE = "Asia/Shanghai"
    DEFAULT_REGION = "CN"

    HANDLING_LIMITS = DEFAULT_HANDLING_LIMITS
    URGENCY_HANDLING_LIMITS = DEFAULT_URGENCY_HANDLING_LIMITS
    SIGN_LIMITS = DEFAULT_SIGN_LIMITS
    SEND_BACK_LIMITS = DEFAULT_SEND_BACK_LIMITS
    EXTENSION_MAX_DAYS = 10
    EXTENSION_MAX_COUNT = 1
    VISIT_LIMIT = {"amount": 1, "unit": "working_days"}
    VISIT_MAX_ATTEMPTS = 3
    # An SMS survey unanswered this long counts as one unreachable visit attempt.
    VISIT_SURVEY_WAIT = {"amount": 1, "unit": "working_days"}
    MAX_DISPATCH_ROUNDS = 3
    WARNING_YELLOW = {"amount": 1, "unit": "working_days", "fraction": 0.2}
    SUPERVISE_AFTER_OVERDUE_DAYS = 5
    # Citizens' SMS about non-emergency tickets wait out these local hours ("HH:MM-HH:MM",
    # across midnight allowed; None: any hour). Answers to the citizen's own text
    # (TwiML replies) are not held.
    SMS_QUIET_HOURS: str | None = "21:30-08:00"
    # A send-back or extension request not reviewed this long reminds the dispatchers.
    REVIEW_REMINDER_AFTER = {"amount": 4, "unit": "office_hours"}
    # How often the deadline sweep runs (seconds; RQ's scheduler starts it).
    SWEEP_INTERVAL_S = 60
    # Most rounds look only at deadlines passed this recently; every SWEEP_FULL_EVERY-th
    # round looks at all (catching up after a worker outage).
    SWEEP_LOOKBACK_S = 6 * 3600
    # Early warning (苗头性预警): a category in one territory with at least
    # HOTSPOT_MIN_TICKETS requests in HOTSPOT_WINDOW_HOURS, HOTSPOT_FACTOR times its usual
    # count (its average over HOTSPOT_BASELINE_DAYS); and requests naming a risk word.
    # The figures (hotline.kpi): 部分解决 counts this much as solved, 基本满意 this much as
    # satisfied; the composite's weights and its deductions (per unit of each rate).
    # The figures' daily rollup (hotline.kpi_rollup): days built per worker round, and
    # how long after midnight a day is left before it is built.
    KPI_ROLLUP_DAYS_PER_ROUND = 31
    KPI_ROLLUP_SETTLE_S = 600
    KPI_PARTLY_SOLVED_WEIGHT = 0.5
    KPI_BASIC_SATISFIED_WEIGHT = 1.0
    KPI_WEIGHTS = {"response_rate": 0.30, "resolution_rate": 0.35, "satisfaction_rate": 0.35}
    KPI_DEDUCTIONS = {"overdue_rate": 0.10, "wrongful_return_rate": 0.05}
    HOTSPOT_WINDOW_HOURS = 24
    HOTSPOT_MIN_TICKETS = 5
    HOTSPOT_FACTOR = 3.0
    HOTSPOT_BASELINE_DAYS = 28
    RISK_KEYWORDS = (
        "群体",
        "集体上访",
        "欠薪",
        "讨薪",
        "燃气",
        "煤气",
        "坠落",
        "坠楼",
        "跳楼",
        "自杀",
        "轻生",
        "爆炸",
        "塌方",
        "倒塌",
        "中毒",
    )
    SWEEP_FULL_EVERY = 60
    # Day limits fall due at this local time on their last working day.
    DAY_DEADLINE_TIME = "23:59:59"
    # The city's working day, for office-hour limits: "HH:MM-HH:MM" periods.
    OFFICE_HOURS = ["08:30-12:00", "14:00-17:30"]

    # Voice and SMS (Twilio). Without credentials outbound SMS is held in the outbox.
    TWILIO_LANGUAGE = "zh-CN"
    TWILIO_VOICE = "Polly.Zhiyu"
    TWILIO_HTTP_CLIENT = None  # a twilio.http.HttpClient to use instead of the network
    VOICE_QUEUE = "hotline"
    VOICE_RECORD_CALLS = True  # 12345 centres record every answered call
    VOICE_HOLD_MUSIC_URL: str | None = None  # without it callers wait in silence
    # Transfer emergency callers instead of telling them to dial: {"110": "+86110", …}
    EMERGENCY_TRANSFER: dict[str, str] = {}
    AVERAGE_HANDLE_SECONDS = 180
    # An editing screen's lock on a ticket lapses this long after its last renewal.
    TICKET_LOCK_SECONDS = 30
    # Fair assignment: at most this many open chats and callbacks per available agent.
    ASSIGN_CAPACITY = {"chat": 3, "callback": 1}
    SMS_THREAD_DAYS = 7
    CHAT_MESSAGES_PER_MINUTE = 20
    CHAT_COOKIE_MAX_AGE = 7 * 24 * 3600
    # Online hall uploads: stored under instance/uploads, never in the static folder.
    UPLOAD_MAX_FILES = 5
    UPLOAD_MAX_BYTES = 10 * 1024 * 1024
    UPLOAD_TYPES = ["image/jpeg", "image/png", "application/pdf"]
    UPLOAD_DIR: str | None = None  # default: instance/uploads
    MAX_CONTENT_LENGTH = 60 * 1024 * 1024
    # Limits for unauthenticated intake (Flask-Limiter syntax), per client address.
    PUBLIC_RATE_LIMIT = "20 per minute;200 per day"
    # The online hall's knowledge-base search (each unanswered question is counted).
    PUBLIC_SEARCH_RATE_LIMIT = "60 per minute;2000 per day"
    LOGIN_RATE_LIMIT = "10 per minute"

    # Duplicates (并单) and mass incidents: windows and similarity thresholds, measured on
    # tests/routing/data/duplicate_pairs.yaml (precision 0.86, recall 0.97 at 0.10).
    DUPLICATE_DAYS = 7
    DUPLICATE_WINDOW_HOURS = 72
    DUPLICATE_CALLER_THRESHOLD = 0.10
    DUPLICATE_PLACE_THRESHOLD = 0.10
    DUPLICATE_ADDRESS_THRESHOLD = 0.6
    DUPLICATE_PLACE_TYPES = ("complaint", "report", "help")
    DUPLICATE_LIMIT = 10
    INCIDENT_MIN_TICKETS = 3
    INCIDENT_WINDOW_HOURS = 6
    INCIDENT_LOOKBACK_HOURS = 24
    INCIDENT_TEXT_THRESHOLD = 0.10
    RATELIMIT_HEADERS_ENABLED = True

    # Knowledge base. Search: the full-text index's field weights (bm25 / ts_rank) for
    # finding candidates, the share of the final score that is how much of the question
    # an article covers, and the coverage under which an article is not a useful answer
    # (the question then counts as a knowledge gap; lower for long questions).
    KB_FIELD_WEIGHTS = {"title": 10.0, "keywords": 6.0, "body": 1.0, "sounds": 0.5}
    KB_COVERAGE_SHARE = 0.6
    KB_SUBJECT_SHARE = 0.3  # the share that is how much of the article's subject is named
    KB_CATEGORY_SHARE = 0.1  # the share that is routing's confidence in the category
    # ... and the share that is how closely it matches one of the article's similar
    # questions (added on top: the shares above still sum to one).
    KB_QUESTION_SHARE = 0.15
    # Measured again with the fusion and similar questions of today's search (it dates
    # from the first version): at 0.1 rather than 0.2, on the demo articles, the same
    # first answers of the 916 development questions and 3 more of the 1,540 unseen
    # (SQLite), 5 more of those in the top 3; on PostgreSQL 1 and 6 more; at 100,000
    # articles the same. Unanswerable questions left unanswered: 22 of 180, one fewer
    # than at 0.2; most gaps are questions nothing matches, not ones this drops. The
    # cost: more candidates go through the fusion, 0.1-0.3 ms a search at 100,000
    # articles on PostgreSQL (raise it again if latency matters more than recall@3).
    KB_MIN_SCORE = 0.1
    # Routing is asked which category a question is in only when the best answer found
    # in the question's own words scores below this (it costs a second segmentation).
    KB_ROUTING_BELOW = 0.7
    # A question of more units (words and pieces) than this is a caller's story. It has
    # words enough of its own: routing is not asked (it reads what happened to the
    # caller rather than what the caller asks), and the bigrams of its words no article
    # has (院花 in 住了十几天院花了) are not asked of the index. Measured on the three
    # question sets: at 90 articles as many right first answers either way, at 100,000
    # articles 2 fewer of 496; stories' median time about 2 ms shorter.
    KB_STORY_UNITS = 12
    # How many terms the full-text index is asked for: the question's weightiest words,
    # at most two names of each; all of them count when the candidates are scored.
    KB_INDEX_TERMS = 8
    # ... and not those in more than this share of the articles (unless nothing rarer).
    KB_COMMON_SHARE = 0.002
    # A changed service guide must be published within this of its approval.
    KB_GUIDE_PUBLISH_LIMIT = {"amount": 1, "unit": "working_days"}
    # The reviewer of a version must not be its author (four-eyes review).
    KB_FOUR_EYES = True

    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_TRANSLATION_DIRECTORIES = str(
        Path(__file__).resolve().parent.parent / "web" / "translations"
    )
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = {"zh_Hans_CN": "简体中文", "en": "English"}
    API_PAGE_SIZE = 50
    API_MAX_PAGE_SIZE = 500
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    # Off in tests (the Socket.IO test client cannot use a message queue).
    SOCKETIO_MESSAGE_QUEUE = True
    OUTBOX_RELAY_ON_COMMIT = True


ENV_KEYS = (
    "SECRET_KEY",
    "REDIS_URL",
    "PII_KEY",
    "PII_LOOKUP_KEY",
    "AUDIT_KEY",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_NUMBER",
    "PUBLIC_BASE_URL",
    "TWILIO_API_KEY",
    "TWILIO_API_SECRET",
    "TWILIO_TWIML_APP_SID",
)


def environment_overrides() -> dict[str, Any]:
    """The settings the environment gives (DESIGN.md "Configuration")."""
    found: dict[str, Any] = {key: os.environ[key] for key in ENV_KEYS if os.environ.get(key)}
    if os.environ.get("DATABASE_URL"):
        found["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(os.environ["DATABASE_URL"])
    return found


def normalise_database_url(url: str) -> str:
    """Accept the usual `postgres://` spellings and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
