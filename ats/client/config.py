"""Profiles: a URL and a token per name, in an INI file only the user can read.

The file lives in the user's config directory (``~/.config/atscli/config.ini``
on Linux, honouring ``XDG_CONFIG_HOME``); ``ATSCLI_CONFIG`` points elsewhere.
``ATS_URL`` and ``ATS_TOKEN`` override whatever the profile says.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click

SETTINGS = "atscli"  # the section holding the default profile's name
PREFIX = "profile "


@dataclass(frozen=True)
class Connection:
    url: str
    token: str
    source: str  # where the values came from, for error messages


def config_path() -> Path:
    override = os.environ.get("ATSCLI_CONFIG")
    if override:
        return Path(override)
    return Path(click.get_app_dir("atscli")) / "config.ini"


def _load() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    path = config_path()
    if path.exists():
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise click.ClickException(f"cannot read {path}: {exc}") from None
    return parser


def _save(parser: configparser.ConfigParser) -> Path:
    """Write atomically, readable by the user alone (the file holds tokens)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        parser.write(fh)
    os.chmod(tmp, 0o600)  # in case the file existed with wider rights
    os.replace(tmp, path)
    return path


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"{url!r} is not an http(s) URL such as http://127.0.0.1:5000")
    return url.strip().rstrip("/")


def add_profile(name: str, url: str, token: str, make_default: bool) -> Path:
    parser = _load()
    section = PREFIX + name
    if not parser.has_section(section):
        parser.add_section(section)
    parser[section]["url"] = check_url(url)
    parser[section]["token"] = token
    if not parser.has_section(SETTINGS):
        parser.add_section(SETTINGS)
    if make_default or not parser[SETTINGS].get("default"):
        parser[SETTINGS]["default"] = name
    return _save(parser)


def remove_profile(name: str) -> Path:
    parser = _load()
    if not parser.remove_section(PREFIX + name):
        raise click.ClickException(f"no profile {name!r}; see `atscli profile list`")
    if parser.has_section(SETTINGS) and parser[SETTINGS].get("default") == name:
        parser.remove_option(SETTINGS, "default")
    return _save(parser)


def set_default(name: str) -> Path:
    parser = _load()
    if not parser.has_section(PREFIX + name):
        raise click.ClickException(f"no profile {name!r}; see `atscli profile list`")
    if not parser.has_section(SETTINGS):
        parser.add_section(SETTINGS)
    parser[SETTINGS]["default"] = name
    return _save(parser)


def profiles() -> list[tuple[str, str, str, bool]]:
    """(name, url, token hint, is default) for each profile."""
    parser = _load()
    default = parser.get(SETTINGS, "default", fallback=None)
    out = []
    for section in parser.sections():
        if section.startswith(PREFIX):
            name = section[len(PREFIX) :]
            token = parser[section].get("token", "")
            hint = token[:8] + "…" if len(token) > 8 else "(none)"
            out.append((name, parser[section].get("url", ""), hint, name == default))
    return out


def resolve(profile: str | None) -> Connection:
    """The server to talk to: environment first, then the named or default profile."""
    parser = _load()
    name = (
        profile
        or os.environ.get("ATSCLI_PROFILE")
        or parser.get(SETTINGS, "default", fallback=None)
    )
    url = token = None
    source = "ATS_URL/ATS_TOKEN"
    if name is not None:
        section = PREFIX + name
        if not parser.has_section(section):
            if profile is not None or not os.environ.get("ATS_URL"):
                raise click.ClickException(
                    f"no profile {name!r} in {config_path()}; see `atscli profile list`"
                )
        else:
            url, token = parser[section].get("url"), parser[section].get("token")
            source = f"profile {name!r}"
    if os.environ.get("ATS_URL"):
        url, source = os.environ["ATS_URL"], "ATS_URL"
    if os.environ.get("ATS_TOKEN"):
        token = os.environ["ATS_TOKEN"]
    if not url:
        raise click.ClickException(
            "no server configured: run `atscli profile add NAME --url URL --token TOKEN`, "
            "or set ATS_URL and ATS_TOKEN"
        )
    if not token:
        raise click.ClickException(f"no token for {url} ({source}); set ATS_TOKEN or add a profile")
    try:
        url = check_url(url)
    except click.BadParameter as exc:
        raise click.ClickException(f"{source}: {exc.message}") from None
    return Connection(url, token, source)
