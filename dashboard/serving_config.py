"""The numbers gunicorn.conf.py reads from the environment, checked, and the boot check it runs.

Light on purpose (the standard library only): gunicorn's master imports it, and the master stays
small and free of threads, database connections and loaded boundaries, which its workers would
otherwise inherit through fork. The app's own settings (data, database, accounts, Redis, NUTS
files) are checked by ``python -m dashboard.serving_check`` in a child process before any worker
starts (:func:`run_boot_check`); a bad setting ends the start there with one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
#: Exit status of a start refused for a bad setting (as ``python app.py``).
EXIT_BAD_SETTING = 2
#: As dashboard.auth (not imported here: it needs the whole stack); the tests compare them.
SECRET_ENV, MIN_SECRET_LENGTH = "ATLAS_SECRET_KEY", 32


class SettingError(ValueError):
    """A setting cannot be used; the message names it, says why and what to set."""


@dataclass(frozen=True)
class GunicornSettings:
    """What gunicorn.conf.py hands to gunicorn (each from an ATLAS_ variable, see README)."""

    bind: list[str]
    workers: int
    threads: int
    timeout: int
    graceful_timeout: int
    max_requests: int
    log_level: str
    forwarded_allow_ips: str


LOG_LEVELS = ("debug", "info", "warning", "error")


def _number(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise SettingError(f"{name}={raw!r}: give a whole number from {low} to {high} (default {default})")
    return value


def log_level() -> str:
    """ATLAS_LOG_LEVEL: debug, info (default), warning or error."""
    value = os.environ.get("ATLAS_LOG_LEVEL", "").strip().lower() or "info"
    if value not in LOG_LEVELS:
        raise SettingError(f"ATLAS_LOG_LEVEL={value!r}: use one of {', '.join(LOG_LEVELS)}")
    return value


def gunicorn_settings() -> GunicornSettings:
    """From ATLAS_BIND (comma-separated HOST:PORT, default 127.0.0.1:8050), ATLAS_WORKERS
    (default: the number of CPUs, at least 2), ATLAS_THREADS (8), ATLAS_TIMEOUT (60 s),
    ATLAS_GRACEFUL_TIMEOUT (30 s), ATLAS_MAX_REQUESTS (0: workers are not recycled),
    ATLAS_LOG_LEVEL and ATLAS_FORWARDED_ALLOW_IPS (127.0.0.1). Raises SettingError."""
    bind = [
        part.strip() for part in os.environ.get("ATLAS_BIND", "127.0.0.1:8050").split(",") if part.strip()
    ]
    for address in bind:
        _host, sep, port = address.rpartition(":")
        if not address.startswith("unix:") and (not sep or not port.isdigit() or not 0 <= int(port) < 65536):
            raise SettingError(
                f"ATLAS_BIND={address!r}: give HOST:PORT (e.g. 0.0.0.0:8050), several separated by commas"
            )
    return GunicornSettings(
        bind=bind or ["127.0.0.1:8050"],
        workers=_number("ATLAS_WORKERS", max(2, os.cpu_count() or 2), 1, 64),
        threads=_number("ATLAS_THREADS", 8, 1, 64),
        timeout=_number("ATLAS_TIMEOUT", 60, 5, 3600),
        graceful_timeout=_number("ATLAS_GRACEFUL_TIMEOUT", 30, 1, 3600),
        max_requests=_number("ATLAS_MAX_REQUESTS", 0, 0, 10_000_000),
        log_level=log_level(),
        forwarded_allow_ips=os.environ.get("ATLAS_FORWARDED_ALLOW_IPS", "127.0.0.1").strip() or "127.0.0.1",
    )


def settings_or_exit() -> GunicornSettings:
    """gunicorn_settings(), or one line on stderr and exit 2."""
    try:
        return gunicorn_settings()
    except SettingError as exc:
        refuse(str(exc))


def refuse(message: str) -> NoReturn:
    """Stop the start with one line."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_BAD_SETTING)


def run_boot_check(binds: list[str]) -> None:
    """Run ``python -m dashboard.serving_check`` for these addresses before any worker starts; its
    output (one line per problem or warning) goes to stderr; a failure exits with its status."""
    command = [sys.executable, "-m", "dashboard.serving_check", *[f"--bind={b}" for b in binds]]
    done = subprocess.run(command, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(done.returncode if done.returncode > 0 else EXIT_BAD_SETTING)
