"""What the HTTP benchmarks share: a gunicorn started as `make run` starts it,
the `wrk` load generator, a keep-alive client that reads ``Server-Timing``,
and the machine's description."""

from __future__ import annotations

import http.client
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.live import (  # noqa: E402 - after the path is set
    children,
    free_port,
    start_gunicorn,
    stop_gunicorn,
)


class Gunicorn:
    """``gunicorn -c python:ats.gunicorn_conf app:app`` on a free port, with the
    environment `make run` reads; the access log goes to a file."""

    def __init__(self, db_url: str, workers: int | None = None, threads: int | None = None):
        self.tmp = Path(tempfile.mkdtemp(prefix="ats-bench-srv-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = self.tmp / "server.log"
        self.env = {
            **os.environ,
            "ATS_DATABASE_URL": db_url,
            "ATS_SECRET_KEY": "bench",
            "ATS_DATA_DIR": str(self.tmp / "data"),
            # measure the server, not the limiter's refusals (ATS_API_RATE_LIMIT=... to count)
            "ATS_API_RATE_LIMIT": os.environ.get("ATS_API_RATE_LIMIT", "off"),
            "ATS_RATELIMIT_STORAGE_URI": f"sqlite:///{self.tmp / 'ratelimits.sqlite3'}",
            "ATS_HOST": "127.0.0.1",
            "ATS_PORT": str(self.port),
        }
        if workers is not None:
            self.env["ATS_WORKERS"] = str(workers)
        if threads is not None:
            self.env["ATS_THREADS"] = str(threads)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Gunicorn:
        self.proc = start_gunicorn(self.env, self.log_path, timeout=60)
        return self

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        return children(self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None:
            stop_gunicorn(self.proc, grace=30)
        shutil.rmtree(self.tmp, ignore_errors=True)


class Datasette:
    """Datasette serving a SQLite file (mutable, as a live database is)."""

    def __init__(self, path: Path, exe: str):
        self.path = path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.name = path.stem
        self.exe = exe
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Datasette:
        self.proc = subprocess.Popen(
            [self.exe, "serve", str(self.path), "-p", str(self.port), "-h", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_http(f"{self.base}/-/versions.json", self.proc)
        return self

    def version(self) -> str:
        with urllib.request.urlopen(f"{self.base}/-/versions.json", timeout=10) as r:  # noqa: S310
            import json

            return json.loads(r.read())["datasette"]["version"]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - loopback
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.2)


# --- wrk ------------------------------------------------------------------------


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers plus socket errors


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(
    url: str,
    duration: float,
    connections: int,
    threads: int = 1,
    headers: dict[str, str] | None = None,
    script: str | None = None,
) -> WrkResult:
    """Run wrk against ``url``; requests/s and client-side latency percentiles."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{round(duration)}s", "--latency"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    lua = None
    if script:
        lua = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
        lua.write(script)
        lua.close()
        cmd += ["-s", lua.name]
    cmd.append(url)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    finally:
        if lua:
            os.unlink(lua.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    return WrkResult(rps, p50, p99, requests, errors)


def lua_paths(method: str, paths: list[str], body: str | None = None) -> str:
    """A wrk script cycling through ``paths``, each thread from its own offset."""
    items = ",".join(f'"{p}"' for p in paths)
    body_lua = "nil" if body is None else f"[[{body}]]"
    return f"""
local paths = {{{items}}}
local counter = 1
local n = 0
function setup(thread)
  thread:set("start", n * 7919)
  n = n + 1
end
function init(args)
  counter = (start or 0) + 1
end
function request()
  local p = paths[(counter % #paths) + 1]
  counter = counter + 1
  return wrk.format("{method}", p, nil, {body_lua})
end
"""


def lua_bodies(method: str, items: list[tuple[str, str]], threads: int) -> str:
    """A wrk script sending each (path, JSON body) at most once: thread k of
    ``threads`` takes items k, k + threads, ... (wrap-around only past the end)."""
    rows = ",".join(f'{{"{p}",[[{b}]]}}' for p, b in items)
    return f"""
local items = {{{rows}}}
local n = 0
function setup(thread)
  thread:set("k", n)
  n = n + 1
end
function init(args)
  i = k or 0
end
function request()
  local it = items[(i % #items) + 1]
  i = i + {threads}
  return wrk.format("{method}", it[1], nil, it[2])
end
"""


# --- one client, reading Server-Timing -----------------------------------------


@dataclass
class Sequential:
    client_p50: float
    client_p99: float
    server_p50: float | None
    server_p99: float | None
    size: int


def sequential(
    base: str,
    paths: list[str],
    runs: int,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    bodies: list[str] | None = None,
) -> Sequential:
    """One keep-alive connection, ``runs`` requests in a row: client latency and
    the server's own time (``Server-Timing: app;dur=...``) when it sends one."""
    host = base.split("//", 1)[1]
    conn = http.client.HTTPConnection(host, timeout=60)
    client, server, size = [], [], 0
    for i in range(runs):
        path = paths[i % len(paths)]
        body = bodies[i % len(bodies)].encode() if bodies else None
        h = dict(headers or {})
        if body is not None:
            h["Content-Type"] = "application/json"
        t = time.perf_counter()
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        client.append((time.perf_counter() - t) * 1000)
        if resp.status >= 400:
            raise RuntimeError(f"{method} {path}: {resp.status} {data[:300]!r}")
        size = len(data)
        timing = resp.getheader("Server-Timing")
        if timing:
            m = re.search(r"dur=([\d.]+)", timing)
            if m:
                server.append(float(m.group(1)))
    conn.close()
    return Sequential(
        statistics.median(client),
        pct(client, 99),
        statistics.median(server) if server else None,
        pct(server, 99) if server else None,
        size,
    )


def pct(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# --- the machine ----------------------------------------------------------------


def machine() -> str:
    cpu = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) // 1024 // 1024
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem} GiB RAM, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; load average before the run "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
