"""A throw-away deployment for the serving benchmarks (bench/load.py, bench/faults.py).

gunicorn instances started by ``gunicorn -c gunicorn.conf.py app:server`` from the repository
root, sharing a redis-server of their own (on a free port, so that it can be stopped and started)
and a fresh schema in a PostgreSQL database with PostGIS (``--postgres-url``, else
``$ATLAS_BENCH_DATABASE_URL``, else ``postgresql+psycopg://postgres@127.0.0.1:5432/atlas_bench``;
the database is created when missing, the schema dropped at the end). The survey file is a copy
of the bundled sample (served with accounts, not as the demo) or ``generate(sites // 20, sites)``
of scripts/make_sample_data.py; the users file holds official and cluster accounts, each with an
API token. Everything else goes to a temporary folder, removed at the end.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboard import users  # noqa: E402

SAMPLE = REPO / "data" / "sample_facilities.csv"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/atlas_bench"
#: name -> (role, password); every account also gets an API token.
ACCOUNTS = {
    "official-1": ("official", "official-bench-password"),
    "cluster-1": ("cluster", "cluster-bench-password"),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Redis:
    """A redis-server of the bench's own."""

    def __init__(self, folder: Path) -> None:
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2) as conn,
            ):
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@dataclass
class Instance:
    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        """The pids of its workers (children of the master)."""
        found = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass
class Deployment:
    folder: Path
    env: dict[str, str]
    redis: Redis
    database_url: str
    data: Path
    tokens: dict[str, str]
    instances: list[Instance] = field(default_factory=list)

    def start(self, name: str, workers: int = 2, threads: int = 8) -> Instance:
        port = free_port()
        log = self.folder / f"{name}.log"
        env = {**self.env, "ATLAS_BIND": f"127.0.0.1:{port}", "ATLAS_WORKERS": str(workers)}
        env["ATLAS_THREADS"] = str(threads)
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:server"],
            cwd=REPO,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        instance = Instance(name, port, log, process)
        self.instances.append(instance)
        return instance

    def wait_ready(self, instance: Instance, seconds: float = 300) -> float:
        """Seconds until /readyz answered 200 on every worker (a few answers in a row)."""
        started, deadline, ok = time.monotonic(), time.monotonic() + seconds, 0
        while time.monotonic() < deadline:
            if instance.process.poll() is not None:
                raise RuntimeError(f"{instance.name} exited:\n{instance.log.read_text()[-3000:]}")
            try:
                ok = ok + 1 if requests.get(instance.url + "/readyz", timeout=10).status_code == 200 else 0
            except requests.RequestException:
                ok = 0
            if ok >= 6:
                return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"{instance.name} not ready in {seconds} s:\n{instance.log.read_text()[-3000:]}")


def _postgres(base: str) -> tuple[str, sa.Engine, str]:
    """A URL for a fresh schema in ``base`` (the database created with PostGIS when missing)."""
    url = sa.make_url(base)
    server = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        exists = connection.exec_driver_sql(
            "SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)
        ).first()
        if exists is None:
            connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    server.dispose()
    admin = sa.create_engine(url, pool_pre_ping=True)  # it outlives a PostgreSQL restart (faults.py)
    schema = f"serving_{uuid.uuid4().hex[:10]}"
    with admin.begin() as connection:
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    scoped = url.update_query_dict({"options": f"-csearch_path={schema},public", "application_name": schema})
    return scoped.render_as_string(hide_password=False), admin, schema


def survey_file(folder: Path, sites: int) -> Path:
    """A copy of the sample (``sites`` 0) or a generated file of ``sites`` sites."""
    path = folder / "survey.csv"
    if not sites:
        shutil.copyfile(SAMPLE, path)
        return path
    spec = importlib.util.spec_from_file_location(
        "make_sample_data", REPO / "scripts" / "make_sample_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(max(1, sites // 20), sites, 1).to_csv(path, index=False)
    return path


@contextlib.contextmanager
def deployment(postgres_url: str | None = None, sites: int = 0) -> Iterator[Deployment]:
    """Redis, a PostgreSQL schema, accounts and settings; instances are started by the caller."""
    folder = Path(tempfile.mkdtemp(prefix="atlas-serving-bench-"))
    redis = Redis(folder)
    redis.start()
    base = postgres_url or os.environ.get("ATLAS_BENCH_DATABASE_URL") or DEFAULT_POSTGRES_URL
    database_url, admin, schema = _postgres(base)
    tokens, accounts = {}, []
    for name, (role, password) in ACCOUNTS.items():
        token, hashed = users.new_token()
        tokens[name] = token
        accounts.append(users.User(name, role, users.hash_password(password), (hashed,)))
    users.save_users(folder / "users.json", accounts)
    data = survey_file(folder, sites)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ATLAS_")},
        "ATLAS_DATA": str(data),
        "ATLAS_DATABASE_URL": database_url,
        "ATLAS_REDIS_URL": redis.url,
        "ATLAS_SECRET_KEY": secrets.token_hex(32),
        "ATLAS_USERS": str(folder / "users.json"),
        "ATLAS_JOBS_DIR": str(folder / "jobs"),
        "ATLAS_LOG_LEVEL": "info",
    }
    found = Deployment(folder, env, redis, database_url, data, tokens)
    try:
        yield found
    finally:
        for instance in found.instances:
            instance.stop()
        redis.stop()
        with contextlib.suppress(sa.exc.OperationalError), admin.begin() as connection:
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                (schema,),
            )
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)
