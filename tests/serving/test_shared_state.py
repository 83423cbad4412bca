"""The shared cache, the job board and the request log, in one process against a real Redis.

Two objects on the same Redis stand for two workers (or hosts): the Redis of
ATLAS_TEST_REDIS_URL under a key prefix of the test's own; stopping the tests' own redis-server
stands for Redis going down.
"""

from __future__ import annotations

import json
import logging
import pickle
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask

from dashboard import cache, serving_jobs, serving_log
from dashboard.data import SAMPLE_FILE, AtlasData
from geodata import disclosure
from geodata.aggregate import Filters
from tests.serving.conftest import RedisServer

SECRET = "s" * 40


@pytest.fixture
def prefix(redis_url: str, redis_server: RedisServer) -> Iterator[str]:
    """A key prefix of the test's own (its keys deleted afterwards, in both Redis)."""
    name = f"atlas-test:{uuid.uuid4().hex[:12]}:"
    yield name
    for url in (redis_url, redis_server.url):
        client = redis.Redis.from_url(url)
        keys = client.keys(name + "*")
        if keys:
            client.delete(*keys)


def test_values_are_shared_signed_and_a_forged_entry_is_ignored(redis_url: str, prefix: str) -> None:
    one, other = (cache.SharedCache(redis_url, SECRET, prefix=prefix) for _ in range(2))
    one.set("k", {"figures": [1, 2, 3]})
    assert other.get("k") == {"figures": [1, 2, 3]}
    stranger = cache.SharedCache(redis_url, "another deployment's secret key!", prefix=prefix)
    assert stranger.get("k") is None  # signed with another key: never read
    client = redis.Redis.from_url(redis_url)
    client.set(prefix + "forged", b"!" + pickle.dumps({"figures": "forged"}))
    assert other.get("forged") is None  # not signed at all (cachelib's own format)
    signed = client.get(prefix + "k")
    assert signed is not None
    client.set(prefix + "tampered", signed[:-1] + bytes([signed[-1] ^ 1]))
    assert other.get("tampered") is None
    assert other.status() == cache.CacheStatus("redis", True)


def test_without_redis_url_everything_is_per_process() -> None:
    local = cache.SharedCache(None, SECRET)
    local.set("k", 1)
    assert local.get("k") is None and not local.shared
    assert local.status().mode == "per-process" and local.status().ok


def test_redis_down_answers_at_once_and_is_reported_until_it_is_back(
    redis_server: RedisServer, prefix: str
) -> None:
    shared = cache.SharedCache(redis_server.url, SECRET, prefix=prefix)
    shared.set("k", "v")
    redis_server.stop()
    try:
        started = time.perf_counter()
        assert shared.get("k") is None
        shared.set("k", "w")
        assert shared.get("k") is None
        assert time.perf_counter() - started < 1.0  # one failed call, then Redis is left alone
        status = shared.status(max_age=0)
        assert status.mode == "per-process" and not status.ok and "Redis not reachable" in status.detail
    finally:
        redis_server.start()
    time.sleep(cache.RETRY_SECONDS + 0.1)
    assert shared.status(max_age=0) == cache.CacheStatus("redis", True)
    shared.set("k", "x")
    assert shared.get("k") == "x"


def test_a_role_group_is_never_served_another_groups_release(
    redis_url: str, prefix: str, real_nuts: Path
) -> None:
    """Even when the shared cache holds an official's release under the cluster's key (a bug, or
    a key collision), a cluster gets the cluster's release: what is read back must name the group."""
    shared = cache.SharedCache(redis_url, SECRET, prefix=prefix)
    rules = disclosure.Rules(key=SECRET)
    filters = Filters(stages=("fill_finish",))
    first = AtlasData(SAMPLE_FILE, rules, shared=shared)  # one worker
    official = first.release(2021, filters, "official")
    cluster = first.release(2021, filters, "cluster")
    assert official.role == "official" and cluster.role == "cluster"
    keys = {k.decode().rsplit(":", 3)[-2] for k in redis.Redis.from_url(redis_url).keys(prefix + "release:*")}
    assert keys == {"official", "cluster"}
    # another worker reads the shared releases instead of computing them
    second = AtlasData(SAMPLE_FILE, rules, shared=shared, shapes=first.shapes)
    second._compute_release = None  # computing would fail
    assert second.release(2021, filters, "public").totals == cluster.totals
    # an official's release stored under the cluster's key is not served to a cluster
    client = redis.Redis.from_url(redis_url)
    cluster_key = next(k for k in client.keys(prefix + "release:*") if b":cluster:" in k)
    official_key = next(k for k in client.keys(prefix + "release:*") if b":official:" in k)
    client.set(cluster_key, client.get(official_key) or b"")
    third = AtlasData(SAMPLE_FILE, rules, shared=shared, shapes=first.shapes)
    got = third.release(2021, filters, "cluster")
    assert got.role == "cluster" and got.totals == cluster.totals
    withheld = got.table(3)[disclosure.withheld_column("capacity")] != ""
    assert withheld.any() and got.table(3)["capacity"][withheld].isna().all()


def test_job_states_are_seen_by_every_worker_on_disk_and_in_redis(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    shared = cache.SharedCache(redis_url, SECRET, prefix=prefix)
    for make in (
        lambda: serving_jobs.JobBoard(tmp_path / "jobs"),  # workers of one host
        lambda: serving_jobs.JobBoard(tmp_path / f"host-{time.monotonic_ns()}", shared),  # any host
    ):
        one, other = make(), make()
        state = {"id": "a" * 32, "status": "running", "started": time.time(), "lines": ["reading"]}
        one.save(state)
        found = other.load("a" * 32)
        assert found is not None and found == {**state, "beat": found["beat"]}
        assert [s["id"] for s in other.recent()] == ["a" * 32]
        one.save({**state, "status": "done", "lines": ["reading", "stored"]})
        assert (other.load("a" * 32) or {}).get("status") == "done"
    board = serving_jobs.JobBoard(tmp_path / "stale")
    board.save({"id": "b" * 32, "status": "running", "started": time.time()})
    board._local().set(  # the worker running it stopped a while ago
        "job:" + "b" * 32,
        json.dumps({"id": "b" * 32, "status": "running", "started": 0, "beat": time.time() - 120}),
    )
    stopped = board.load("b" * 32)
    assert stopped is not None and stopped["status"] == "failed" and "stopped" in stopped["error"]


def test_job_states_fall_back_to_this_host_while_redis_is_down(
    tmp_path: Path, redis_server: RedisServer, prefix: str
) -> None:
    board = serving_jobs.JobBoard(
        tmp_path / "jobs", cache.SharedCache(redis_server.url, SECRET, prefix=prefix)
    )
    redis_server.stop()
    try:
        board.save({"id": "c" * 32, "status": "running", "started": time.time()})
        found = board.load("c" * 32)
        assert found is not None and found["status"] == "running"
    finally:
        redis_server.start()


def test_the_request_log_is_one_json_line_with_the_id_the_client_sees(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = Flask("logged")

    @server.route("/api/v1/thing")
    def thing() -> str:
        logging.getLogger("atlas.test").warning("inside the request")
        return "ok"

    serving_log.install(server)
    client = server.test_client()
    caplog.handler.addFilter(serving_log.RequestIdFilter())
    with caplog.at_level(logging.INFO):
        sent = client.get("/api/v1/thing?name=anna", headers={"X-Request-ID": "abc-123"})
        fresh = client.get("/nowhere", headers={"X-Request-ID": "bad id <script>"})
        for response in (sent, fresh):
            response.close()  # the line is written once the response is sent
    assert sent.headers["X-Request-ID"] == "abc-123"
    assert len(fresh.headers["X-Request-ID"]) == 16 and fresh.status_code == 404
    formatter = serving_log.JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert all("\n" not in line for line in lines)
    parsed = [json.loads(line) for line in lines]
    inside = next(p for p in parsed if p["message"] == "inside the request")
    assert inside["request_id"] == "abc-123" and inside["level"] == "warning"
    requests_logged = [p for p in parsed if p.get("event") == "request"]
    assert [(p["route"], p["status"], p["request_id"]) for p in requests_logged] == [
        ("/api/v1/thing", 200, "abc-123"),
        ("(unmatched)", 404, fresh.headers["X-Request-ID"]),
    ]
    assert "anna" not in "".join(lines)  # no query strings
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    failed = json.loads(formatter.format(record))
    assert failed["exception"] == "RuntimeError" and "Traceback" in failed["traceback"]


def test_a_published_round_is_announced_to_every_other_process(redis_url: str, prefix: str) -> None:
    one, other = (cache.SharedCache(redis_url, SECRET, prefix=prefix) for _ in range(2))
    heard_by_one: list[str] = []
    heard_by_other: list[str] = []
    one.listen("rounds", heard_by_one.append)
    other.listen("rounds", heard_by_other.append)
    time.sleep(0.5)  # subscribed
    one.announce("rounds", "2026-spring")
    for _ in range(50):
        if heard_by_other:
            break
        time.sleep(0.05)
    assert heard_by_other == ["2026-spring"] and heard_by_one == []  # not to itself
    assert cache.SharedCache(None, SECRET).listen("rounds", heard_by_one.append) is None


def test_a_result_is_computed_once_while_workers_ask_for_it_at_once(redis_url: str, prefix: str) -> None:
    """Four threads of each of two 'workers' ask for the same slow result: it is computed once."""
    import threading

    calls: list[int] = []

    def slow() -> dict[str, int]:
        calls.append(1)
        time.sleep(0.5)
        return {"figure": 42}

    workers = [cache.SharedCache(redis_url, SECRET, prefix=prefix) for _ in range(2)]
    got: list[object] = []
    threads = [
        threading.Thread(target=lambda w=w: got.append(w.compute_once("k", slow, lambda v: v is not None)))
        for w in workers
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert got == [{"figure": 42}] * 8 and len(calls) == 1
    assert workers[0].compute_once("k", slow, lambda v: v is not None) == {"figure": 42} and len(calls) == 1
    local = cache.SharedCache(None, SECRET)
    assert local.compute_once("k", slow, lambda v: v is not None) == {"figure": 42} and len(calls) == 2
