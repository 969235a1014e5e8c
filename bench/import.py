"""How fast `atscli ... upsert` imports a CSV into a server run like `make run`.

Starts gunicorn with the production settings (ats/gunicorn_conf.py) on a free
port and a fresh SQLite file, makes a token, writes a CSV of made-up
candidates, then runs the installed `atscli candidate upsert --unique email`
as a separate process: once per --workers value creating new rows, then the
same file again (every row unchanged) and a changed file (every row updated).
Prints a table; rows/s counts the whole command, start-up included.

    .venv/bin/python bench/import.py [--rows 10000] [--workers 1,4,8]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live import BIN, LiveServer  # noqa: E402 - after the path is set


def write_csv(path: Path, rows: int, tag: str, city: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "email", "phone", "location", "tags", "consent_talent_pool"])
        for i in range(rows):
            writer.writerow(
                [
                    f"Person {tag} {i}",
                    f"person.{tag}.{i}@example.com",
                    f"+49 30 {i:07d}",
                    city,
                    f"import,{tag}",
                    "true" if i % 3 == 0 else "false",
                ]
            )


def upsert(env: dict[str, str], path: Path, workers: int) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [BIN / "atscli", "candidate", "upsert", "--unique", "email", "--csv", str(path)]
        + ["--workers", str(workers)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"atscli failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def count(stdout: str, word: str) -> int:
    for line in stdout.splitlines():
        parts = line.split()
        if word in parts:
            return int(parts[-1])
    raise ValueError(f"no {word!r} in {stdout!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--workers", default="1,4,8")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="ats-bench-import-"))
    server = LiveServer(tmp, workers=int(os.environ.get("ATS_WORKERS", "3")))
    server.start()
    try:
        env = {
            **os.environ,
            "ATS_URL": server.base,
            "ATS_TOKEN": server.admin_token(),
            "ATSCLI_CONFIG": str(tmp / "atscli.ini"),
        }
        results = []
        for w in workers:
            path = tmp / f"people-{w}.csv"
            write_csv(path, args.rows, f"w{w}", "Berlin")
            seconds, out = upsert(env, path, w)
            results.append(("create", w, count(out, "created"), seconds))
        last = workers[-1]
        path = tmp / f"people-{last}.csv"
        seconds, out = upsert(env, path, last)
        results.append(("unchanged", last, count(out, "unchanged"), seconds))
        write_csv(path, args.rows, f"w{last}", "Hamburg")
        seconds, out = upsert(env, path, last)
        results.append(("update", last, count(out, "updated"), seconds))
    finally:
        server.stop()

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print(f"machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}")
    print(f"server: gunicorn, ATS_WORKERS={server.env['ATS_WORKERS']}, SQLite on local disk")
    print()
    print(f"{'pass':<10} {'workers':>7} {'rows':>7} {'seconds':>8} {'rows/s':>7}")
    for kind, w, rows, seconds in results:
        print(f"{kind:<10} {w:>7} {rows:>7} {seconds:>8.1f} {rows / seconds:>7.0f}")


if __name__ == "__main__":
    main()
