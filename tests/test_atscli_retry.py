"""atscli's retries, against a small local server that misbehaves on purpose,
and the Idempotency-Key guarantee against the real server behind a proxy that
loses an answer.

Pins: 429/502/503/504 and dropped connections are retried with backoff, a
`Retry-After` is honoured, the number of tries is bounded by --retries, every
try of one POST carries the same Idempotency-Key, and a POST whose answer was
lost creates exactly one object.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from ats import fields as F
from ats.api.openapi import model_schema
from ats.client.main import cli
from tests.live import LiveServer

PAGE = {
    "object": "list",
    "items": [{"id": "job_1", "object": "job", "data": {"title": "Flaky"}}],
    "limit": 20,
    "offset": 0,
    "has_more": False,
    "next_after": None,
    "total": 1,
}


class Flaky(ThreadingHTTPServer):
    """Answers each request with the next scripted (status, headers) until the
    script runs out, then with the real answer; records what it was sent."""

    daemon_threads = True

    def __init__(self, script: list[tuple[int, dict[str, str]]], only: str | None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script = list(script)
        self.only = only  # script only this method's requests
        self.seen: list[tuple[str, str, dict[str, str], float]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Flaky

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with self.server.lock:
            self.server.seen.append((self.command, self.path, dict(self.headers), time.monotonic()))
            scripted = self.server.only in (None, self.command)
            step = self.server.script.pop(0) if self.server.script and scripted else None
        if step is not None and step[0] == 0:  # drop the connection, no answer
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if step is not None:
            status, headers = step
            body: Any = {"error": "unavailable", "message": f"scripted {status}"}
        elif self.path.startswith("/xapi2/schema/"):
            status, headers, body = 200, {}, model_schema(F.MODELS["job"])
        elif self.command == "POST":
            status, headers, body = 201, {}, {**PAGE["items"][0], "id": "job_new"}
        else:
            status, headers, body = 200, {}, PAGE
        raw = json.dumps(body).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PATCH = _answer


@pytest.fixture
def flaky():
    servers: list[Flaky] = []

    def start(script: list[tuple[int, dict[str, str]]], only: str | None = None) -> Flaky:
        server = Flaky(script, only)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def atscli(url: str, *args: str, code: int = 0, token: str = "pat_test"):
    env = {"ATS_URL": url, "ATS_TOKEN": token, "ATSCLI_CONFIG": "/nonexistent/atscli.ini"}
    result = CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def test_503s_are_retried_then_the_answer_is_used(flaky):
    server = flaky([(503, {}), (502, {}), (504, {})])
    result = atscli(server.url, "job", "list", "-o", "ndjson")
    assert json.loads(result.stdout)["data"]["title"] == "Flaky"
    assert len(server.seen) == 4
    assert "HTTP 503; retry 1 of 5" in result.stderr
    assert "HTTP 504; retry 3 of 5" in result.stderr
    # exponential backoff: the wait before the third try is longer than before the second
    times = [t for *_rest, t in server.seen]
    assert times[3] - times[2] > times[2] - times[1] > 0.4


def test_retry_after_is_honoured(flaky):
    server = flaky([(429, {"Retry-After": "1"}), (429, {"Retry-After": "1"})])
    started = time.monotonic()
    result = atscli(server.url, "job", "list", "-o", "ndjson")
    elapsed = time.monotonic() - started
    assert "Flaky" in result.stdout and len(server.seen) == 3
    assert 2.0 <= elapsed < 8, elapsed
    assert "HTTP 429; retry 1 of 5 in 1.0 s" in result.stderr


def test_tries_are_bounded(flaky):
    server = flaky([(503, {})] * 10)
    result = atscli(server.url, "job", "list", "--retries", "2", code=1)
    assert len(server.seen) == 3
    assert "Error: 503 scripted 503 (gave up after retrying)" in result.stderr
    no_retry = flaky([(429, {"Retry-After": "1"})])
    result = atscli(no_retry.url, "--retries", "0", "job", "list", code=1)
    assert len(no_retry.seen) == 1 and "429" in result.stderr


def test_every_try_of_a_post_carries_the_same_idempotency_key(flaky):
    server = flaky([(502, {}), (0, {}), (503, {})], only="POST")  # 0: dropped, no answer
    result = atscli(server.url, "job", "create", "--title", "Once")
    assert json.loads(result.stdout)["id"] == "job_new"
    posts = [headers for method, _path, headers, _t in server.seen if method == "POST"]
    assert len(posts) == 4
    keys = {h.get("Idempotency-Key") for h in posts}
    assert len(keys) == 1 and uuid.UUID(keys.pop())
    second = atscli(server.url, "job", "create", "--title", "Twice")
    assert second.exit_code == 0
    last = [h for m, _p, h, _t in server.seen if m == "POST"][-1]
    assert last["Idempotency-Key"] not in {h["Idempotency-Key"] for h in posts}  # new per POST


class LosingProxy(threading.Thread):
    """Forwards one connection at a time to the real server, but swallows the
    answer to the first POST (the request reaches the server and is executed)."""

    def __init__(self, target_port: int) -> None:
        super().__init__(daemon=True)
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lost = 0
        self.stop = False

    def run(self) -> None:
        while not self.stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
            while True:
                request = _read_message(client)
                if not request:
                    return
                upstream.sendall(request)
                answer = _read_message(upstream)
                if request.startswith(b"POST") and self.lost == 0:
                    self.lost += 1
                    return  # the server did the work; the client never hears of it
                client.sendall(answer)


def _read_message(sock: socket.socket) -> bytes:
    """One HTTP/1.1 message with a Content-Length body (enough for xapi2)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    server = LiveServer(tmp_path_factory.mktemp("idempotency"), workers=2).start()
    server.token = server.admin_token()
    yield server
    server.stop()


def test_a_post_whose_answer_was_lost_creates_one_object(live):
    proxy = LosingProxy(live.port)
    proxy.start()
    try:
        result = atscli(
            f"http://127.0.0.1:{proxy.port}",
            "job",
            "create",
            "--title",
            "Exactly once",
            token=live.token,
        )
    finally:
        proxy.stop = True
        proxy.listener.close()
    assert proxy.lost == 1
    assert "retry 1 of 5" in result.stderr  # the lost answer was noticed and retried
    created = json.loads(result.stdout)
    page = live.api(live.token, "GET", "/data/job?title=Exactly+once")
    assert page["total"] == 1 and page["items"][0]["id"] == created["id"]
