"""The API's per-token rate limit, and the storage its counters share across processes.

Every xapi2 request counts against one bucket: its bearer token's, or, for a
request without a valid token, its client address's. Past the limit the API
answers 429 with its usual error body (``rate_limited``) and ``Retry-After``
in seconds; every counted answer carries ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (the epoch second the
window ends), the header names Flask-Limiter uses.

Counting is done with ``limits`` (Flask-Limiter's engine: limit strings,
fixed windows, storages) from one before-request hook of our own: through
Flask-Limiter the same limit cost a read of the API about 220 µs more than
with none (it resolves route, blueprint and exemption rules and parses the
limit string on every request of the app), this hook about 105 µs, storage
included (``bench/ratelimit.py``).

The token is told apart without a database lookup: its bucket is named by a
keyed hash of the bearer secret (BLAKE2b under a key derived from the app's
secret key, so the counter file holds nothing that identifies a token outside
this install). An invented token would get a fresh bucket of its own, so a
bearer request is also checked against its address's bucket until this
process has seen its token authenticate (the API sets ``g.actor`` then), and
a 401 answer is charged to the address: spraying made-up tokens is limited
per address like requests without any.

The counters live where every worker process sees them. A per-process memory
store would let 3 workers allow 3 times the limit, and the main database is
the wrong place: on SQLite every API read would become a write on the file
that holds the data. So by default they go to a SQLite file of their own,
``<instance>/ratelimits.sqlite3`` (:class:`SQLiteStorage`);
``ATS_RATELIMIT_STORAGE_URI`` names any storage ``limits`` knows instead
(``redis://host:6379`` for several machines, with the ``redis`` package
installed). Should the storage fail, the process counts in memory for a few
seconds and then tries it again: a broken counter file never takes the API
down.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import sqlite3
import threading
import time
from contextlib import closing, suppress
from typing import Any

from flask import Flask, Response, g, request
from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError
from limits.storage import MemoryStorage, Storage, storage_from_string

from .errors import RateLimited
from .services import auth

OFF = ("", "off")
_log = logging.getLogger(__name__)
KNOWN_TOKENS_MAX = 10_000  # keyed hashes of tokens seen working in this process


def parse_rate(value: str | None, name: str = "ATS_API_RATE_LIMIT") -> str:
    """The limit as given, "" when switched off; ValueError with a clear message if bad.

    Called at start-up, so a typo stops the server instead of silently
    leaving the API unlimited (or limited to nothing).
    """
    text = "" if value is None else str(value).strip()
    if text.lower() in OFF:
        return ""
    hint = (
        f'{name}={value!r} is not a rate limit: write e.g. "300 per second" or '
        '"20000/hour" (several: "300/second; 10000/minute"), or "off"'
    )
    try:
        items = parse_many(text)
    except ValueError:
        raise ValueError(hint) from None
    if not items or any(item.amount < 1 for item in items):
        raise ValueError(hint)
    return text


# --- the storage -----------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hits (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID
"""
# One statement counts a hit and starts a new window once the old one is over:
# SQLite runs it atomically, so workers counting at once never lose a hit.
_INCR = """
INSERT INTO hits (key, count, expires) VALUES (?1, ?2, ?3)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN hits.expires <= ?4 THEN excluded.count
                 ELSE hits.count + excluded.count END,
    expires = CASE WHEN hits.expires <= ?4 THEN excluded.expires ELSE hits.expires END
RETURNING count, expires
"""  # ?1 key, ?2 amount, ?3 the new window's end, ?4 now
PURGE_EVERY = 60.0  # seconds between deletions of ended windows, per process


class SQLiteStorage(Storage):
    """Fixed-window counters in a SQLite file every process on the machine shares.

    ``sqlite:///relative/path`` or ``sqlite:////absolute/path`` (SQLAlchemy's
    form). One table, one row per bucket (its key, its count, when its window
    ends), purged of ended windows now and then. Each statement is its own
    transaction; each thread of each process has its own connection.

    WAL with ``synchronous=OFF``: nothing ever waits for the disk (16 µs a
    hit against 37 µs with NORMAL, whose checkpoint syncs also stall one
    request in a thousand for ~15 ms). The price is that a crash of the
    machine (not of the app) can leave the file damaged; the counts are
    disposable, so a damaged file found when a process starts is deleted and
    begun again.

    ``incr`` and ``get`` read the window's end along with the count, and the
    ``get_expiry`` that follows them on the same thread is answered from that:
    a counted request costs one statement, not two.
    """

    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        prefix = "sqlite:///"
        if not uri.startswith(prefix) or len(uri) == len(prefix):
            raise ConfigurationError(f"{uri!r}: expected sqlite:///path/to/ratelimits.sqlite3")
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = uri[len(prefix) :]
        self.timeout = float(options.get("timeout", 5.0))
        self._local = threading.local()
        self._purged = 0.0
        self._drop_if_damaged()

    def _drop_if_damaged(self) -> None:
        """Delete the file if SQLite finds it damaged (see the class docstring)."""
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            return
        try:
            with closing(sqlite3.connect(self.path, timeout=self.timeout)) as conn:
                sound = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        except sqlite3.OperationalError:  # locked, unreadable...: not known to be damaged
            return
        except sqlite3.DatabaseError:  # "file is not a database", "disk image is malformed"
            sound = False
        if sound:
            return
        try:
            if os.stat(self.path).st_ino != inode:
                return  # another worker replaced it meanwhile
        except FileNotFoundError:
            return
        _log.warning("rate-limit counters in %s were damaged; starting them afresh", self.path)
        for suffix in ("", "-wal", "-shm"):
            with suppress(FileNotFoundError):
                os.unlink(self.path + suffix)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _db(self) -> sqlite3.Connection:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():  # none yet, or inherited by a fork
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute(_SCHEMA)
            local.conn, local.pid = conn, os.getpid()
        return conn

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        conn = self._db()
        count, expires = conn.execute(_INCR, (key, amount, now + expiry, now)).fetchone()
        self._local.last = (key, count, expires)
        if count == amount and now - self._purged > PURGE_EVERY:
            self._purged = now  # a new window began: a moment to drop ended ones
            conn.execute("DELETE FROM hits WHERE expires <= ?", (now,))
        return int(count)

    def get(self, key: str) -> int:
        row = self._db().execute("SELECT count, expires FROM hits WHERE key = ?", (key,)).fetchone()
        if row is None or row[1] <= time.time():
            self._local.last = None
            return 0
        self._local.last = (key, row[0], row[1])
        return int(row[0])

    def get_expiry(self, key: str) -> float:
        """When the window of ``key`` ends; the end the last incr/get on this thread
        read, if it was for this key (the caller asks right after it), else read."""
        last = getattr(self._local, "last", None)
        self._local.last = None
        now = time.time()
        if last is not None and last[0] == key and last[2] > now:
            return float(last[2])
        row = self._db().execute("SELECT expires FROM hits WHERE key = ?", (key,)).fetchone()
        return now if row is None or row[0] <= now else float(row[0])

    def check(self) -> bool:
        try:
            self._db().execute("SELECT 1 FROM hits LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self._db().execute("DELETE FROM hits").rowcount

    def clear(self, key: str) -> None:
        self._db().execute("DELETE FROM hits WHERE key = ?", (key,))
        self._local.last = None


# --- the API limit ---------------------------------------------------------------

RETRY_STORAGE_AFTER = 10.0  # seconds on the per-process fallback after a storage fault
PREFIX = "ats"


def _retry_after(reset: float) -> int:
    """Whole seconds until the window ends, at least 1 (0 would invite a busy loop)."""
    return max(1, math.ceil(reset - time.time()))


class ApiRateLimit:
    """The per-token limit of the xapi2 blueprint, one instance per app.

    Fixed windows, as ``limits``' FixedWindowRateLimiter counts them (one
    ``incr`` per limit and request), called directly so that the count and the
    window's end it returns also make the headers.
    """

    def __init__(self, app: Flask, rate: str) -> None:
        # the shortest window first: it is the one a client runs into first
        self.items = sorted(parse_many(rate), key=lambda item: item.get_expiry())
        uri = app.config["RATELIMIT_STORAGE_URI"]
        try:
            self.storage: Storage = storage_from_string(uri)
        except ConfigurationError as exc:  # unknown scheme, redis package missing...
            raise ValueError(f"ATS_RATELIMIT_STORAGE_URI={uri!r}: {exc}") from None
        self.fallback: Storage | None = None  # counts in this process while the storage fails
        self.fallback_until = 0.0
        self.known_tokens: set[str] = set()
        with app.app_context():  # a key of its own, derived as the token and TOTP keys are
            self.secret = auth.derived_keys("rate limit bucket")[0][1]
        self.logger = app.logger

    # -- who is asking

    def token_key(self) -> str | None:
        """The bearer token's bucket: a keyed hash of its secret (no database lookup)."""
        scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            return None
        digest = hashlib.blake2b(value.encode(), key=self.secret, digest_size=16).hexdigest()
        return "token:" + digest

    @staticmethod
    def address_key() -> str:
        return "ip:" + (request.remote_addr or "?")

    # -- counting, in memory for a while when the storage fails

    def _store(self) -> Storage:
        if self.fallback is not None:
            if time.monotonic() < self.fallback_until:
                return self.fallback
            self.fallback = None  # try the storage again
        return self.storage

    def _failed(self) -> Storage:
        """Called in an ``except``: log it, count in memory, try the storage later."""
        self.logger.exception(
            "rate-limit storage failed; counting in this process for %s s", RETRY_STORAGE_AFTER
        )
        self.fallback = self.fallback or MemoryStorage()
        self.fallback_until = time.monotonic() + RETRY_STORAGE_AFTER
        return self.fallback

    def _hit(self, item: RateLimitItem, who: str) -> tuple[int, float]:
        """Count one request against ``who``'s bucket: (count now, window end)."""
        key = item.key_for(PREFIX, who)
        store = self._store()
        try:
            return store.incr(key, item.get_expiry()), store.get_expiry(key)
        except Exception:  # noqa: BLE001 - a broken counter must not take the API down
            store = self._failed()
            return store.incr(key, item.get_expiry()), store.get_expiry(key)

    def _peek(self, item: RateLimitItem, who: str) -> tuple[int, float]:
        key = item.key_for(PREFIX, who)
        store = self._store()
        try:
            return store.get(key), store.get_expiry(key)
        except Exception:  # noqa: BLE001
            store = self._failed()
            return store.get(key), store.get_expiry(key)

    # -- the request hooks

    def before(self) -> None:
        """Count an API request; RateLimited (429) once its bucket is used up."""
        if request.blueprint != "xapi2":
            return
        token = g.ratelimit_token = self.token_key()
        if token is not None and token not in self.known_tokens:
            # not yet seen to work here: the address's bucket must have room too
            # (made-up tokens are charged to it afterwards, see after())
            address = self.address_key()
            for item in self.items:
                count, reset = self._peek(item, address)
                if count >= item.amount:
                    self._refuse(item, count, reset, "this address")
        shown = None
        for item in self.items:
            count, reset = self._hit(item, token or self.address_key())
            if count > item.amount:
                self._refuse(item, count, reset, "this token" if token else "this address")
            shown = shown or (item, count, reset)
        g.ratelimit_shown = shown

    @staticmethod
    def _refuse(item: RateLimitItem, count: int, reset: float, whose: str) -> None:
        g.ratelimit_shown = (item, count, reset)
        wait = _retry_after(reset)
        raise RateLimited(
            f"too many requests: {whose} may make {item}; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )

    def after(self, response: Response) -> Response:
        """X-RateLimit-* on every counted answer; made-up tokens charged to the address."""
        shown = g.get("ratelimit_shown")
        if shown is None:
            return response
        token = g.ratelimit_token
        if token is not None:
            if g.get("actor") is not None:  # the API authenticated the caller (views._guard)
                if len(self.known_tokens) >= KNOWN_TOKENS_MAX:
                    self.known_tokens.clear()
                self.known_tokens.add(token)
            elif response.status_code == 401:
                self.known_tokens.discard(token)
                address = self.address_key()
                for item in self.items:
                    self._hit(item, address)
        item, count, reset = shown
        headers = response.headers
        headers["X-RateLimit-Limit"] = str(item.amount)
        headers["X-RateLimit-Remaining"] = str(max(0, item.amount - count))
        headers["X-RateLimit-Reset"] = str(math.ceil(reset))
        return response


def init_app(app: Flask) -> ApiRateLimit | None:
    """Limit the xapi2 blueprint per token (``API_RATE_LIMIT``); None when off."""
    rate = parse_rate(app.config.get("API_RATE_LIMIT", ""))
    if not rate:
        return None
    limit = ApiRateLimit(app, rate)
    app.before_request(limit.before)
    app.after_request(limit.after)
    app.extensions["ats_ratelimit"] = limit
    return limit
