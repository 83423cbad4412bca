"""Real deployments for the serving tests: gunicorn with 2 workers per instance, Redis, PostgreSQL.

``deployment``: two gunicorn instances (as two hosts would run them: each its own master and
workers, on its own port) started by ``gunicorn -c gunicorn.conf.py app:server`` with the same
settings: a copy of the sample as the survey file (not the demo: accounts and a secret are
needed), a users file with an official and a cluster account (and an API token each), a fresh
PostgreSQL schema in ``ATLAS_TEST_DATABASE_URL``'s database, and a Redis of their own
(``redis-server`` on a free port, so that a test can stop and start it). Tests that never stop
Redis use the one ``ATLAS_TEST_REDIS_URL`` names, under key prefixes of their own.

Skipped, with the reason, when ``ATLAS_TEST_DATABASE_URL`` or ``ATLAS_TEST_REDIS_URL`` is unset
(``.ci/run`` sets both) or ``redis-server`` cannot be found.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from dashboard import users

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample_facilities.csv"
DB_ENV, REDIS_ENV = "ATLAS_TEST_DATABASE_URL", "ATLAS_TEST_REDIS_URL"
#: Seconds an instance may take to answer /readyz with 200 (two instances boot at once on 2 cores).
BOOT_SECONDS = 120
PASSWORDS = {"anna": "official-password-1", "bob": "cluster-password-12"}
ROLES = {"anna": "official", "bob": "cluster"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A redis-server of the tests' own, on a free port; ``stop()`` and ``start()`` it at will."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary, self.folder = binary, folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis the CI runs (ATLAS_TEST_REDIS_URL), for tests that never stop it."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set: the serving tests need Redis (.ci/run sets it up)")
    return url


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of the tests' own (the binary of the Redis the CI runs), to stop and start."""
    if not os.environ.get(REDIS_ENV):
        pytest.skip(f"{REDIS_ENV} is not set: the serving tests need Redis (.ci/run sets it up)")
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).is_file():
        pytest.skip("redis-server not found: install Debian's redis-server (.ci/run does)")
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh schema of its own in the test database (dropped at the end)."""
    base = os.environ.get(DB_ENV)
    if not base:
        pytest.skip(f"{DB_ENV} is not set: the serving tests need PostgreSQL with PostGIS (.ci/run sets it)")
    schema = f"serving_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, pool_pre_ping=True)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.make_url(base).update_query_dict(
        {"options": f"-csearch_path={schema},public", "application_name": schema}
    )
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                (schema,),
            )
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@dataclass
class Instance:
    """One gunicorn instance (master and workers) on its own port."""

    name: str
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=30, allow_redirects=False, **kwargs)

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON lines of its log so far."""
        found = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def worker_pids(self) -> set[int]:
        return {int(line["pid"]) for line in self.log_lines() if line.get("event") == "request"}


@dataclass
class Deployment:
    env: dict[str, str]
    instances: list[Instance]
    redis: RedisServer
    tokens: dict[str, str]
    folder: Path
    database_url: str
    extra: dict[str, Any] = field(default_factory=dict)

    def session(self, instance: Instance, name: str) -> requests.Session:
        """A browser-like session signed in as ``name`` through ``instance``'s sign-in form."""
        client = requests.Session()
        page = client.get(instance.url + "/login", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text[:300]
        answer = client.post(
            instance.url + "/login",
            data={
                "csrf_token": token.group(1),
                "username": name,
                "password": PASSWORDS[name],
                "next": "/healthz",
            },
            timeout=30,
            allow_redirects=False,
        )
        assert answer.status_code == 302, answer.text[:300]
        return client

    def api(self, instance: Instance, name: str, path: str) -> requests.Response:
        return instance.get(path, headers={"Authorization": f"Bearer {self.tokens[name]}"})


def gunicorn_env(folder: Path, database_url: str, redis_url: str) -> dict[str, str]:
    """The settings of a deployment on a copy of the sample (accounts needed)."""
    data = folder / "survey.csv"
    shutil.copyfile(SAMPLE, data)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ATLAS_")},
        "ATLAS_DATA": str(data),
        "ATLAS_DATABASE_URL": database_url,
        "ATLAS_REDIS_URL": redis_url,
        "ATLAS_SECRET_KEY": secrets.token_hex(32),
        "ATLAS_USERS": str(folder / "users.json"),
        "ATLAS_JOBS_DIR": str(folder / "jobs"),
        "ATLAS_THREADS": "2",
        "ATLAS_LOG_LEVEL": "info",
        "XDG_CACHE_HOME": str(folder / "cache"),
    }


def start_instance(name: str, env: dict[str, str], folder: Path, workers: int = 2) -> Instance:
    port = free_port()
    log = folder / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:server"],
        cwd=REPO,
        env={**env, "ATLAS_BIND": f"127.0.0.1:{port}", "ATLAS_WORKERS": str(workers)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return Instance(name, f"http://127.0.0.1:{port}", log, process)


def wait_ready(instance: Instance, deadline: float) -> None:
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            raise AssertionError(f"{instance.name} exited: {instance.log.read_text()[-2000:]}")
        try:  # a request waits in the listen queue until a worker has built the app
            if requests.get(instance.url + "/readyz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{instance.name} not ready in {BOOT_SECONDS} s: {instance.log.read_text()[-2000:]}")


def stop_instance(instance: Instance) -> None:
    instance.process.send_signal(signal.SIGINT)  # quick shutdown (TERM would be graceful)
    try:
        instance.process.wait(30)
    except subprocess.TimeoutExpired:
        instance.process.kill()
        instance.process.wait(10)


@pytest.fixture(scope="session")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, real_nuts: Path, pg_url: str, redis_server: RedisServer
) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("deployment")
    env = gunicorn_env(folder, pg_url, redis_server.url)
    tokens, accounts = {}, []
    for name, role in ROLES.items():
        token, hashed = users.new_token()
        tokens[name] = token
        accounts.append(users.User(name, role, users.hash_password(PASSWORDS[name]), (hashed,)))
    users.save_users(Path(env["ATLAS_USERS"]), accounts)
    # A with 2 workers, B (the second host) with 1: three workers booting on 2 cores
    instances = [start_instance("a", env, folder, 2), start_instance("b", env, folder, 1)]
    try:
        deadline = time.monotonic() + BOOT_SECONDS
        for instance in instances:
            wait_ready(instance, deadline)
        yield Deployment(env, instances, redis_server, tokens, folder, pg_url)
    finally:
        for instance in instances:
            stop_instance(instance)
