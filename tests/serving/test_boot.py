"""A missing or bad setting stops gunicorn's start with one line and exit status 2, before any
worker starts (``gunicorn -c gunicorn.conf.py app:server``); ``gunicorn app:server`` without the
settings file (gunicorn reads ./gunicorn.conf.py by itself, so: from another folder) still says
what is wrong in one line instead of a worker's traceback.

The starts run at the same time (each is a gunicorn master and its check, a few seconds each).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import serving_config, users

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample_facilities.csv"
WITH_CONFIG = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:server"]
# from another folder (gunicorn reads ./gunicorn.conf.py by itself), importing the app from REPO
WITHOUT_CONFIG = [
    sys.executable,
    "-m",
    "gunicorn",
    "--chdir",
    str(REPO),
    "--bind",
    "127.0.0.1:0",
    "app:server",
]

#: name -> (command, settings changed from a good deployment, what the one line must say, exit status)
CASES: dict[str, tuple[list[str], dict[str, str | None], str, int]] = {
    "missing data file": (WITH_CONFIG, {"ATLAS_DATA": "/nonexistent/survey.csv"}, "ATLAS_DATA=", 2),
    "bad worker count": (WITH_CONFIG, {"ATLAS_WORKERS": "many"}, "ATLAS_WORKERS='many'", 2),
    "no secret key": (WITH_CONFIG, {"ATLAS_SECRET_KEY": None}, "ATLAS_SECRET_KEY is not set", 2),
    "bad Redis URL": (WITH_CONFIG, {"ATLAS_REDIS_URL": "http://cache:6379"}, "ATLAS_REDIS_URL=", 2),
    "unreachable database": (
        WITH_CONFIG,
        {"ATLAS_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/atlas"},
        "cannot open the survey store",
        2,
    ),
    "missing data file, no settings file": (
        WITHOUT_CONFIG,
        {"ATLAS_DATA": "/nonexistent/survey.csv"},
        "/nonexistent/survey.csv: no such file",
        4,  # gunicorn's "App failed to load"
    ),
}


@pytest.fixture(scope="module")
def starts(tmp_path_factory: pytest.TempPathFactory, real_nuts: Path) -> dict[str, tuple[int, str]]:
    """Every case of CASES started at once: name -> (exit status, what it wrote)."""
    folder = tmp_path_factory.mktemp("boot")
    data = folder / "survey.csv"
    shutil.copyfile(SAMPLE, data)
    accounts = folder / "users.json"
    users.save_users(accounts, [users.User("anna", "official", users.hash_password("a-password"))])
    good = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ATLAS_")},
        "ATLAS_DATA": str(data),
        "ATLAS_DATABASE_URL": f"sqlite:///{folder / 'atlas.sqlite'}",
        "ATLAS_SECRET_KEY": secrets.token_hex(32),
        "ATLAS_USERS": str(accounts),
        "ATLAS_BIND": "127.0.0.1:0",
        "ATLAS_JOBS_DIR": str(folder / "jobs"),
    }
    running = {}
    for name, (command, changes, _said, _status) in CASES.items():
        env = {**good, **{k: v for k, v in changes.items() if v is not None}}
        for key in [k for k, v in changes.items() if v is None]:
            env.pop(key, None)
        cwd = folder if command is WITHOUT_CONFIG else REPO
        running[name] = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    found = {}
    for name, process in running.items():
        try:
            output, _ = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        found[name] = (process.returncode, output)
    return found


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_setting_stops_the_start_with_one_line(starts: dict[str, tuple[int, str]], case: str) -> None:
    _command, _changes, said, status = CASES[case]
    code, output = starts[case]
    assert code == status, output[-3000:]
    assert "Traceback" not in output and 'File "' not in output, output[-3000:]
    errors = [line for line in output.splitlines() if "error: " in line and said in line]
    assert len(errors) == 1, output[-3000:]
    assert "Booting worker" not in output or status == 4  # the check ran before any worker


def test_numbers_and_addresses_are_checked_before_anything_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLAS_BIND", "0.0.0.0:8050,127.0.0.1:9000")
    monkeypatch.setenv("ATLAS_THREADS", "12")
    got = serving_config.gunicorn_settings()
    assert got.bind == ["0.0.0.0:8050", "127.0.0.1:9000"] and got.threads == 12 and got.workers >= 2
    for name, value, said in (
        ("ATLAS_BIND", "localhost", "give HOST:PORT"),
        ("ATLAS_TIMEOUT", "0", "from 5 to 3600"),
        ("ATLAS_LOG_LEVEL", "chatty", "debug, info, warning, error"),
    ):
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            with pytest.raises(serving_config.SettingError, match=said):
                serving_config.gunicorn_settings()


def test_the_light_check_agrees_with_the_app() -> None:
    """serving_check and serving_config import little, so they repeat a few names of the app."""
    from dashboard import auth, data, serving_check
    from geodata import readers

    assert (serving_config.SECRET_ENV, serving_config.MIN_SECRET_LENGTH) == (
        auth.SECRET_ENV,
        auth.MIN_SECRET_LENGTH,
    )
    assert serving_check.SAMPLE_FILE == data.SAMPLE_FILE
    suffixes = (
        readers.CSV_SUFFIXES + readers.EXCEL_SUFFIXES + readers.GPKG_SUFFIXES + readers.PARQUET_SUFFIXES
    )
    assert set(serving_check.SUFFIXES) == set(suffixes)
    assert serving_check.is_loopback("127.0.0.1:8050") and serving_check.is_loopback("[::1]:80")
    assert serving_check.is_loopback("localhost:8050") and not serving_check.is_loopback("0.0.0.0:8050")
