"""Talking to xapi2: keep-alive, retries with backoff, readable failures.

urllib3 does the retrying (exponential backoff with jitter, ``Retry-After``
honoured, a bounded number of tries). Every POST carries an
``Idempotency-Key``, so retrying one after a lost answer never creates a
second object; PATCH and DELETE are idempotent by nature.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import quote, urlencode

import click
import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError
from urllib3.util import Retry, Timeout

RETRY_STATUSES = (429, 502, 503, 504)
MAX_RETRY_AFTER = 120  # seconds; a server asking for longer gets a failure instead


def _version() -> str:
    try:
        return version("ats")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "dev"


class ApiFailure(click.ClickException):
    """An answer the user must see: HTTP status, the server's message, bad fields."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        self.status = status
        self.fields = fields or {}
        self.detail = message
        text = f"{status} {message}" if status else message
        for name, problem in self.fields.items():
            text += f"\n  {name}: {problem}"
        super().__init__(text)

    @classmethod
    def from_answer(cls, status: int, data: Any) -> ApiFailure:
        if isinstance(data, dict):
            message = str(data.get("message") or data.get("error") or "request failed")
            fields = data.get("fields") if isinstance(data.get("fields"), dict) else None
            return cls(status, message, {str(k): str(v) for k, v in (fields or {}).items()})
        return cls(status, "the server answered with an error page (is this an ATS URL?)")

    def one_line(self) -> str:
        """For reject files and row reports: status, message and fields on one line."""
        parts = [f"{name}: {problem}" for name, problem in self.fields.items()]
        head = f"{self.status} {self.detail}" if self.status else self.detail
        return head + (" (" + "; ".join(parts) + ")" if parts else "")


class _Retry(Retry):
    """Says on stderr what it is waiting for, so a slow command is not a hung one."""

    def increment(self, method=None, url=None, response=None, error=None, *args, **kw):  # type: ignore[no-untyped-def]  # noqa: E501
        new = super().increment(method, url, response, error, *args, **kw)
        why = f"HTTP {response.status}" if response is not None else _reason(error)
        wait = new.get_retry_after(response) if response is not None else None
        if wait is None:
            wait = new.get_backoff_time()
        done = len(new.history)
        of = done + new.total if isinstance(new.total, int) else "?"
        click.echo(f"atscli: {why}; retry {done} of {of} in {wait:.1f} s", err=True)
        return new


class Client:
    """One server, one token, one pool of keep-alive connections (thread-safe)."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        retries: int = 5,
        timeout: float = 30.0,
        connections: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self.url = url.rstrip("/")
        self.retry = _Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            redirect=0,
            allowed_methods=None,  # every method: POSTs carry an Idempotency-Key
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff,
            backoff_jitter=backoff,
            backoff_max=30,
            raise_on_status=False,
            respect_retry_after_header=True,
            retry_after_max=MAX_RETRY_AFTER,
        )
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": f"atscli/{_version()}",
        }
        self.pool = urllib3.PoolManager(
            num_pools=2, maxsize=max(1, connections), timeout=Timeout(connect=10.0, read=timeout)
        )

    def request(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]] | dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """The decoded JSON answer (None for 204), or ApiFailure."""
        url = self.url + path
        if params:
            url += "?" + urlencode(params, doseq=True)
        headers = dict(self.headers)  # urllib3 replaces, not merges, default headers
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        try:
            response = self.pool.request(
                method, url, body=payload, headers=headers, retries=self.retry.new()
            )
        except MaxRetryError as exc:
            raise ApiFailure(0, f"cannot reach {self.url}: {_reason(exc.reason)}") from None
        except HTTPError as exc:
            raise ApiFailure(0, f"cannot reach {self.url}: {_reason(exc)}") from None
        data: Any = None
        if response.data:
            try:
                data = json.loads(response.data)
            except ValueError:
                data = None
                if response.status < 400:
                    raise ApiFailure(
                        response.status, f"{self.url} did not answer JSON (is this an ATS URL?)"
                    ) from None
        if response.status >= 400:
            failure = ApiFailure.from_answer(response.status, data)
            if response.status in RETRY_STATUSES:
                failure.message += " (gave up after retrying)"
            raise failure
        return data

    # --- the five endpoints -------------------------------------------------

    def list_page(self, model: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        return self.request("GET", f"/xapi2/data/{quote(model, safe='')}", params)

    def get(self, model: str, obj_id: str) -> dict[str, Any]:
        return self.request("GET", _path(model, obj_id))

    def create(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"/xapi2/data/{quote(model, safe='')}", body=body)

    def update(self, model: str, obj_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", _path(model, obj_id), body=body)

    def delete(self, model: str, obj_id: str, cascade: bool = False) -> None:
        self.request("DELETE", _path(model, obj_id), {"cascade": "true"} if cascade else None)

    def archive(self, model: str, obj_id: str, archived: bool) -> dict[str, Any]:
        action = "archive" if archived else "unarchive"
        return self.request("POST", _path(model, obj_id) + "/" + action)

    def schema(self, model: str) -> dict[str, Any]:
        return self.request("GET", f"/xapi2/schema/{quote(model, safe='')}")

    def walk(
        self, model: str, params: list[tuple[str, str]], page_size: int, limit: int | None
    ) -> Iterator[dict[str, Any]]:
        """Every object matching params, page by page, as it arrives.

        Keyset paging (``after``) where the sort allows it, so a walk over a
        changing table neither skips nor repeats; offset paging otherwise.
        Holds one page in memory at a time.
        """
        sent = 0
        offset = 0
        after = None
        while True:
            size = page_size if limit is None else min(page_size, limit - sent)
            page_params = [*params, ("limit", str(size))]
            if after is not None:
                page_params.append(("after", after))
            elif offset:
                page_params.append(("offset", str(offset)))
            page = self.list_page(model, page_params)
            items = page.get("items") or []
            yield from items
            sent += len(items)
            offset += len(items)
            if not page.get("has_more") or not items or (limit is not None and sent >= limit):
                return
            after = page.get("next_after")


def _path(model: str, obj_id: str) -> str:
    return f"/xapi2/data/{quote(model, safe='')}/{quote(obj_id, safe='')}"


def _reason(exc: BaseException | None) -> str:
    if exc is not None and len(exc.args) == 2 and isinstance(exc.args[1], BaseException):
        exc = exc.args[1]  # ProtocolError("Connection aborted.", RemoteDisconnected(...))
    text = str(exc) if exc is not None else "no answer"
    # urllib3 wraps the OS error in its own words; keep the part a person reads
    for marker in ("Failed to establish a new connection: ", "Caused by "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.rstrip(")'\"")
