"""Settings: defaults under the instance folder, overridden by the environment.

| variable | default |
|---|---|
| ATS_DATABASE_URL | sqlite:///<instance>/ats.sqlite3 |
| ATS_SECRET_KEY | generated once, kept in <instance>/secret_key |
| ATS_SECRET_KEY_FALLBACKS | unset; earlier secret keys (comma-separated), still accepted |
| ATS_DATA_DIR | <instance> (uploaded files) |
| ATS_MAX_JSON_BYTES | 8 MiB |
| ATS_SQLITE_BUSY_TIMEOUT_MS | 10000 |
| ATS_MAX_CV_BYTES | 10 MiB (largest CV upload) |
| ATS_HTTPS | off; "1" when served over HTTPS: cookies become Secure |
| ATS_PROXY_HOPS | 0: X-Forwarded-* ignored; N: trust that many proxies in front (ProxyFix) |
| ATS_LLM_URL / ATS_LLM_MODEL | unset: fit scoring is offline only (OpenAI-compatible endpoint) |
| ATS_LLM_API_KEY | unset (sent as a bearer token) |
| ATS_LLM_TIMEOUT | 30 seconds per scoring request (0.1-240) |
| ATS_SMTP_URL | unset: e-mail waits in the outbox (smtp://, smtp+starttls://, smtps://) |
| ATS_MAIL_FROM | ats@localhost, with the company name (the sender of every e-mail) |
| ATS_TALENT_POOL_MONTHS | 24 (how long talent-pool consent keeps a candidate) |
| ATS_API_RATE_LIMIT | 300 per second, per API token (per address without one); "off": none |
| ATS_RATELIMIT_STORAGE_URI | sqlite:///<instance>/ratelimits.sqlite3 (redis://... for many hosts) |
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

DEFAULT_MAX_JSON_BYTES = 8 * 1024 * 1024
# Generous for scripts: atscli's bulk imports peak near 210 requests/s on the
# reference machine (README "Bulk import"), reads by id near 1,100/s across all
# workers; a runaway or leaked token is held to about a quarter of that, and a
# client that honours Retry-After (atscli does) waits at most a second.
DEFAULT_API_RATE_LIMIT = "300 per second"


def _secret_key(instance: Path) -> str:
    """Generated once per install, so sessions survive restarts and workers agree."""
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race; use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    instance = Path(instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    env = os.environ
    overrides = overrides or {}
    https = env.get("ATS_HTTPS", "").lower() in ("1", "true", "yes")
    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": env.get("ATS_DATABASE_URL")
        or f"sqlite:///{instance / 'ats.sqlite3'}",
        "DATA_DIR": env.get("ATS_DATA_DIR") or str(instance),
        "MAX_JSON_BYTES": int(env.get("ATS_MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES)),
        "MAX_CV_BYTES": int(env.get("ATS_MAX_CV_BYTES", 10 * 1024 * 1024)),
        "SQLITE_BUSY_TIMEOUT_MS": int(env.get("ATS_SQLITE_BUSY_TIMEOUT_MS", 10000)),
        "PROXY_HOPS": int(env.get("ATS_PROXY_HOPS") or 0),
        "LLM_URL": env.get("ATS_LLM_URL") or None,
        "LLM_MODEL": env.get("ATS_LLM_MODEL") or None,
        "LLM_API_KEY": env.get("ATS_LLM_API_KEY") or None,
        "LLM_TIMEOUT": float(env.get("ATS_LLM_TIMEOUT", 30)),
        "SMTP_URL": env.get("ATS_SMTP_URL") or None,
        "MAIL_FROM": env.get("ATS_MAIL_FROM") or None,
        "TALENT_POOL_MONTHS": int(env.get("ATS_TALENT_POOL_MONTHS", 24)),
        "API_RATE_LIMIT": env.get("ATS_API_RATE_LIMIT", DEFAULT_API_RATE_LIMIT),
        "RATELIMIT_STORAGE_URI": env.get("ATS_RATELIMIT_STORAGE_URI")
        or f"sqlite:///{instance / 'ratelimits.sqlite3'}",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_DURATION": timedelta(days=30),
    }
    config.update(overrides)
    # the largest body of any kind; each endpoint then holds its own limit
    # (JSON bodies MAX_JSON_BYTES, CV uploads MAX_CV_BYTES)
    config.setdefault(
        "MAX_CONTENT_LENGTH", max(config["MAX_JSON_BYTES"], config["MAX_CV_BYTES"] + 2**20)
    )
    if config["PROXY_HOPS"] < 0:
        raise ValueError("ATS_PROXY_HOPS is the number of proxies in front: 0 or more")
    from .ratelimit import parse_rate  # a bad limit stops the start, with the reason

    config["API_RATE_LIMIT"] = parse_rate(config["API_RATE_LIMIT"])
    if "SECRET_KEY" not in config:
        config["SECRET_KEY"] = env.get("ATS_SECRET_KEY") or _secret_key(instance)
    if "SECRET_KEY_FALLBACKS" not in config:
        # Flask checks session cookies against these too; ats.services.auth
        # derives API-token and TOTP keys from each (see "Changing the secret key")
        fallbacks = env.get("ATS_SECRET_KEY_FALLBACKS", "")
        config["SECRET_KEY_FALLBACKS"] = [k.strip() for k in fallbacks.split(",") if k.strip()]
    return config
