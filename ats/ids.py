"""Object ids: a per-model prefix and a ULID, so ids sort by creation time and
cannot be guessed or enumerated like sequential integers."""

from ulid import ULID


def new_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_")
