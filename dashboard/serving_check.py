"""The boot check: ``python -m dashboard.serving_check [--bind HOST:PORT ...]``.

Checks every setting the app reads and prepares what the workers share, before any worker
starts (gunicorn.conf.py runs it from gunicorn's master; it can also be run by hand before a
deployment): the numbers and flags, ``ATLAS_SECRET_KEY`` (every worker and host must sign
sessions with the same key), the data file, ``ATLAS_REDIS_URL``, the accounts (or, for the
demo, loopback addresses only), the disclosure parameters, the NUTS files (downloaded into the
cache when missing, as ``python app.py`` does), the survey store (migrated once) and the data
file's round (imported and published once, so that the workers only read it).

A problem ends the check with one line on stderr (``error: ...``: what, where, what to do) and
exit status 2; Redis not answering is a warning (the app starts on per-process caches and uses
Redis once it answers). The cheap checks come first and import little, so that a wrong setting
is reported in about a second; the store and the boundaries need the full stack.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from dashboard import serving_config
from dashboard.cache import RedisSettingError, SharedCache, redis_url

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FILE = ROOT / "data" / "sample_facilities.csv"  # as dashboard.data (not imported: heavy)
#: The file types geodata.readers reads (checked against it in the tests).
SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".gpkg", ".parquet", ".geoparquet")


class BootError(Exception):
    """The app cannot start: the message (one line) says what is wrong, where, and what to do."""


def one_line(exc: BaseException | str, limit: int = 400) -> str:
    """An error message on one line, cut to ``limit`` characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def data_file() -> Path:
    """ATLAS_DATA (else the bundled sample), checked to be a readable file of a known type."""
    raw = os.environ.get("ATLAS_DATA", "").strip()
    path = Path(raw).expanduser() if raw else SAMPLE_FILE
    if not path.is_file():
        raise BootError(
            f"ATLAS_DATA={raw}: no such file; give the path of the survey file to serve "
            f"({', '.join(SUFFIXES)}), or leave it unset for the fictional sample"
        )
    if path.suffix.lower() not in SUFFIXES:
        raise BootError(
            f"ATLAS_DATA={raw}: files of type {path.suffix or '(none)'} cannot be read; "
            f"use one of {', '.join(SUFFIXES)}"
        )
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise BootError(f"ATLAS_DATA={raw}: cannot be read ({exc.strerror}); check its permissions") from None
    return path


def is_loopback(address: str) -> bool:
    """Whether a gunicorn bind address (HOST:PORT, unix:PATH) is reachable from this machine only."""
    if address.startswith("unix:"):
        return True
    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secret() -> str:
    secret = os.environ.get(serving_config.SECRET_ENV, "").strip()
    if len(secret) < serving_config.MIN_SECRET_LENGTH:
        what = "is not set" if not secret else f"is too short ({len(secret)} characters)"
        raise BootError(
            f"{serving_config.SECRET_ENV} {what}: every worker and host must sign sessions with the same "
            f"key of at least {serving_config.MIN_SECRET_LENGTH} characters; set it, e.g. to the output of "
            "python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return secret


def check(binds: list[str], say: Callable[[str], None] = print) -> Path:
    """Check every setting and prepare the store (see the module's docstring); returns the data
    file. Raises BootError; ``say`` gets warnings."""
    try:
        serving_config.gunicorn_settings()
    except serving_config.SettingError as exc:
        raise BootError(str(exc)) from None
    secret = _secret()
    data = data_file()
    try:
        url = redis_url()
    except RedisSettingError as exc:
        raise BootError(str(exc)) from None
    if url is not None:
        status = SharedCache(url, secret).status(max_age=0)
        if not status.ok:
            say(f"warning: ATLAS_REDIS_URL: {status.detail}; starting on per-process caches until it answers")
    demo = data.resolve() == SAMPLE_FILE.resolve()
    outside = [b for b in binds if not is_loopback(b)]
    if demo and outside:
        raise BootError(
            f"the demo on the fictional sample is served on 127.0.0.1 only (not {', '.join(outside)}); "
            "set ATLAS_DATA to the survey file (with ATLAS_USERS) to serve elsewhere"
        )
    _app_settings(demo)
    _nuts_files()
    _prepare_store(data)
    return data


def _app_settings(demo: bool) -> None:
    """Flags, accounts, disclosure parameters and the upload limit, as the app reads them."""
    from dashboard import auth  # here and below: the full stack, after the cheap checks
    from dashboard.imports import max_upload_bytes
    from geodata import disclosure

    try:
        auth.check_settings(demo=demo)
        disclosure.Rules.from_env()
        max_upload_bytes()
    except (auth.ConfigError, ValueError) as exc:
        raise BootError(one_line(exc)) from None


def _nuts_files() -> None:
    from geodata import nuts, vocab

    try:
        for version in vocab.NUTS_YEARS:
            for level in vocab.NUTS_LEVELS:
                nuts.ensure_file(nuts.NutsKey(version, level, "20M"), download=True)
    except nuts.NutsDataError as exc:
        raise BootError(one_line(exc, 600)) from None


def _prepare_store(data: Path) -> None:
    from dashboard.data import import_start_file
    from geodata import nuts, readers, store

    try:
        opened = store.connect()
    except Exception as exc:  # a bad URL or an unreachable database
        raise BootError(
            f"cannot open the survey store ({type(exc).__name__}: {one_line(exc, 160)}); "
            "check ATLAS_DATABASE_URL"
        ) from None
    try:
        import_start_file(opened, data)
    except (readers.InputError, store.StoreError, nuts.NutsDataError) as exc:
        raise BootError(one_line(exc, 600)) from None
    finally:
        opened.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.serving_check",
        description="Check the settings and prepare the survey store before the app starts.",
    )
    parser.add_argument("--bind", action="append", default=[], help="an address the server will listen on")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        data = check(args.bind, lambda line: print(line, file=sys.stderr))
    except BootError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return serving_config.EXIT_BAD_SETTING
    took = time.perf_counter() - started
    print(f"settings checked, store ready for {data.name} ({took:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
