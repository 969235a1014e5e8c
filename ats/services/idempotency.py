"""``Idempotency-Key`` for the POSTs of xapi2 (draft-ietf-httpapi-idempotency-key-header).

A client that lost the answer to a POST (timeout, dropped connection) cannot
know whether it was carried out. With a key it may simply send it again: the
first request runs, and its answer is stored in the same transaction as its
write; a repetition within 24 hours gets that stored answer back, byte for byte,
instead of a second object.

Only successes are stored. An error (4xx) rolls the whole transaction back, so
nothing was written and a retry, perhaps with a corrected body, runs afresh.

Concurrency: the key is looked up inside the write transaction. On SQLite that
transaction begins with ``BEGIN IMMEDIATE``, so a concurrent twin waits for the
first to commit and then finds its row. Databases that let both run (PostgreSQL)
stop the second at the unique (user_id, key) constraint, or earlier at a unique
rule of the object itself; either way it is rolled back and answered with the
winner's stored response.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..database import writing
from ..errors import BadRequest, Conflict, IdempotencyKeyReused
from ..extensions import db
from ..models import IdempotencyKey, utcnow

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
KEEP_FOR = timedelta(hours=24)
_PRINTABLE_ASCII = re.compile(rf"[ -~]{{1,{KEY_MAX_LENGTH}}}")
_SF_ESCAPE = re.compile(r'\\(["\\])')


@dataclass(frozen=True)
class Reply:
    """An answer as sent on the wire: what is stored and what a replay repeats."""

    status: int
    body: bytes
    location: str | None = None


@dataclass(frozen=True)
class Fingerprint:
    """What makes a request "the same request": method, path and the body's SHA-256."""

    method: str
    path: str
    body_sha256: str

    @classmethod
    def of(cls, method: str, path: str, body: bytes) -> Fingerprint:
        return cls(method, path, hashlib.sha256(body).hexdigest())


def parse_key(value: str | None) -> str | None:
    """The key from the header's value, or None without one; 400 when malformed.

    The draft makes the value a structured-field string (``"abc"``), while many
    clients send it bare (``abc``); both name the same key.
    """
    if value is None:
        return None
    key = value
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = _SF_ESCAPE.sub(r"\1", key[1:-1])
    if not _PRINTABLE_ASCII.fullmatch(key):
        raise BadRequest(
            f"the {HEADER} header must be 1-{KEY_MAX_LENGTH} printable ASCII characters"
        )
    return key


def run(
    user_id: str, key: str, fingerprint: Fingerprint, execute: Callable[[], Reply]
) -> tuple[Reply, bool]:
    """``execute()`` once per (user, key); returns the reply and whether it is a replay.

    ``execute`` does the write (joining this transaction) and returns the answer;
    it raises an ``ApiError`` to refuse, which rolls back everything, the key too.
    """
    try:
        with writing():
            _purge_expired()
            row = _find(user_id, key)
            if row is not None:
                return _replay(row, fingerprint), True
            reply = execute()
            db.session.add(
                IdempotencyKey(
                    user_id=user_id,
                    key=key,
                    method=fingerprint.method,
                    path=fingerprint.path,
                    body_sha256=fingerprint.body_sha256,
                    status=reply.status,
                    body=reply.body.decode(),
                    location=reply.location,
                )
            )
            db.session.flush()  # on PostgreSQL a concurrent twin stops here
    except (IntegrityError, Conflict):
        # Rolled back already. Lost a race against a twin that has committed
        # since? Then answer as it did; otherwise the error was our own.
        row = _find(user_id, key)
        if row is None:
            raise
        return _replay(row, fingerprint), True
    return reply, False


def _find(user_id: str, key: str) -> IdempotencyKey | None:
    return db.session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at >= utcnow() - KEEP_FOR,
        )
    )


def _replay(row: IdempotencyKey, fingerprint: Fingerprint) -> Reply:
    first = Fingerprint(row.method, row.path, row.body_sha256)
    if first != fingerprint:
        where = (first.method, first.path) != (fingerprint.method, fingerprint.path)
        what = f"{first.method} {first.path}" if where else "a different body"
        raise IdempotencyKeyReused(
            f"this {HEADER} was first used with {what}; use a new key for a new request"
        )
    return Reply(row.status, row.body.encode(), row.location)


def _purge_expired() -> None:
    """Drop keys past the window: an index range on created_at, nearly always empty.

    Inside the write transaction, so it also frees an expired (user, key) for reuse
    before the lookup; a rolled-back request just leaves it to the next one.
    """
    db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - KEEP_FOR)
    )
