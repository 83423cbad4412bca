"""Two gunicorn instances (2 workers each) sharing PostgreSQL and Redis, as two hosts would.

Health and readiness, the request log, a session started on one instance continuing on the
other, no role ever served another role's shared result, an import followed and published
through one instance and served by the other, PostgreSQL connections dropped under the app,
and Redis stopped and started again (the last test: it takes the shared cache away).
"""

from __future__ import annotations

import io
import re
import time

import redis
import requests
import sqlalchemy as sa

from tests.serving.conftest import SAMPLE, Deployment, Instance

REGIONS = "/api/v1/regions?version=2021&level=2&stage=fill_finish&platform=mrna"


def test_health_and_readiness_answer_without_sign_in(deployment: Deployment) -> None:
    for instance in deployment.instances:
        health = instance.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        ready = instance.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "ready"
        checks = body["checks"]
        assert {name: checks[name]["ok"] for name in checks} == {
            "database": True,
            "nuts": True,
            "round": True,
            "cache": True,
        }
        assert checks["cache"]["mode"] == "redis" and checks["round"]["detail"] == "current round indexed"
        assert "postgresql" not in ready.text and "survey" not in ready.text  # nothing about the set-up


def test_one_json_line_per_request_with_the_id_the_client_sees(deployment: Deployment) -> None:
    a = deployment.instances[0]
    anna = deployment.session(a, "anna")
    answer = anna.get(a.url + "/api/v1/summary?version=2021", headers={"X-Request-ID": "test-summary-1"})
    assert answer.status_code == 200 and answer.headers["X-Request-ID"] == "test-summary-1"
    missing = a.get("/api/v1/nowhere", headers={"Authorization": f"Bearer {deployment.tokens['bob']}"})
    assert missing.status_code == 404 and re.fullmatch(r"[0-9a-f]{16}", missing.headers["X-Request-ID"])
    time.sleep(0.3)  # the line is written once the response is sent
    lines = {line.get("request_id"): line for line in a.log_lines() if line.get("event") == "request"}
    line = lines["test-summary-1"]
    assert line["route"] == "/api/v1/summary" and line["status"] == 200 and line["role"] == "official"
    assert line["method"] == "GET" and isinstance(line["duration_ms"], float)
    assert lines[missing.headers["X-Request-ID"]]["status"] == 404
    text = a.log.read_text()
    assert "anna" not in text.replace('"signed in: anna', "")  # sign-in is logged, requests are not
    assert "version=2021" not in text  # no query strings


def test_a_session_started_on_one_instance_continues_on_the_other(deployment: Deployment) -> None:
    a, b = deployment.instances
    anna = deployment.session(a, "anna")
    on_a = anna.get(a.url + "/api/v1/summary?version=2021", timeout=30)
    on_b = anna.get(b.url + "/api/v1/summary?version=2021", timeout=30)
    assert on_a.status_code == on_b.status_code == 200
    assert on_a.json()["role"] == on_b.json()["role"] == "official"
    assert on_a.json()["totals"] == on_b.json()["totals"]
    # the page itself, and the import pages (officials only), on either instance
    for instance in (a, b):
        assert anna.get(instance.url + "/import", timeout=30).status_code == 200
    signed_out = requests.get(b.url + "/api/v1/summary?version=2021", timeout=30)
    assert signed_out.status_code == 401
    # requests of one session were answered by workers of both hosts
    assert a.worker_pids() and b.worker_pids() and not a.worker_pids() & b.worker_pids()


def test_a_cluster_is_never_served_an_officials_shared_result(deployment: Deployment) -> None:
    a, b = deployment.instances
    official = deployment.api(a, "anna", REGIONS)  # computed on A first, and shared through Redis
    cluster = deployment.api(b, "bob", REGIONS)
    cluster_again = deployment.api(a, "bob", REGIONS)
    assert official.status_code == cluster.status_code == cluster_again.status_code == 200
    assert cluster.json()["regions"] == cluster_again.json()["regions"]  # the same on every host
    confidential = 0
    by_code = {row["nuts_id"]: row for row in cluster.json()["regions"]}
    for row in official.json()["regions"]:
        for metric in row["confidential"]:  # what the official is told other roles do not see
            confidential += 1
            assert by_code[row["nuts_id"]][metric] is None
            assert metric in by_code[row["nuts_id"]]["withheld"]
    assert confidential > 0  # the setting does hide something from clusters
    keys = [k.decode() for k in redis.Redis.from_url(deployment.redis.url).keys("atlas:v1:release:*")]
    assert any(":official:" in k for k in keys) and any(":cluster:" in k for k in keys)


def test_an_import_followed_and_published_on_one_instance_is_served_by_the_other(
    deployment: Deployment,
) -> None:
    a, b = deployment.instances
    anna = deployment.session(a, "anna")
    page = anna.get(a.url + "/import", timeout=30).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    content = SAMPLE.read_bytes().replace(b"\n", b"\r\n")  # another file: a new round
    answer = anna.post(
        a.url + "/import",
        data={"csrf_token": csrf.group(1), "round": "second-round"},
        files={"file": ("second.csv", io.BytesIO(content), "text/csv")},
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 303
    job = answer.headers["Location"]
    for _ in range(600):  # the job page, answered by the other host
        followed = anna.get(b.url + job, timeout=30, allow_redirects=False)
        if followed.status_code == 303:
            break
        assert followed.status_code == 200 and "failed" not in followed.text, followed.text[-500:]
        time.sleep(0.1)
    assert followed.headers["Location"] == "/import/rounds/second-round"
    assert deployment.api(b, "bob", "/api/v1/summary?version=2021").json()["round"] == "survey"
    report = anna.get(b.url + "/import/rounds/second-round", timeout=30).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', report)
    assert csrf
    published = anna.post(
        b.url + "/import/rounds/second-round/publish",
        data={"csrf_token": csrf.group(1)},
        timeout=30,
        allow_redirects=False,
    )
    assert published.status_code == 303
    rounds = set()
    for _ in range(8):  # every worker of the other host, at once
        rounds.add(deployment.api(a, "bob", "/api/v1/summary?version=2021").json()["round"])
    assert rounds == {"second-round"}


def test_failed_sign_ins_are_counted_across_hosts(deployment: Deployment) -> None:
    """Five failures for one name, spread over two hosts, lock the name on both."""
    a, b = deployment.instances
    client = requests.Session()

    def sign_in(instance: Instance, password: str) -> int:
        page = client.get(instance.url + "/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        form = {"csrf_token": token.group(1), "username": "mallory", "password": password}
        return client.post(instance.url + "/login", data=form, timeout=30, allow_redirects=False).status_code

    assert [sign_in(instance, "guess") for instance in (a, b, a, b, a)] == [401] * 5
    assert sign_in(b, "another guess") == 429


def test_requests_succeed_after_the_database_drops_every_connection(deployment: Deployment) -> None:
    """As after a PostgreSQL restart: pooled connections are dead; the next request reconnects."""
    a = deployment.instances[0]
    assert deployment.api(a, "bob", "/api/v1/summary?version=2021").status_code == 200
    schema = dict(sa.make_url(deployment.database_url).query)["application_name"]
    admin = sa.create_engine(deployment.database_url)
    with admin.begin() as connection:
        killed = connection.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (schema,),
        ).scalar()
    admin.dispose()
    assert killed and killed > 0
    for instance in deployment.instances:
        for _ in range(6):
            assert deployment.api(instance, "bob", "/api/v1/summary?version=2021").status_code == 200
        assert instance.get("/readyz").json()["checks"]["database"]["ok"] is True


def test_without_redis_the_app_serves_from_per_process_caches_and_says_so(deployment: Deployment) -> None:
    a, b = deployment.instances
    deployment.redis.stop()
    try:
        for _ in range(40):  # /readyz asks Redis at most once a second
            ready = a.get("/readyz")
            assert ready.status_code == 200
            body = ready.json()
            if body["status"] != "ready":
                break
            time.sleep(0.1)
        assert body["status"] == "degraded"
        assert body["checks"]["cache"] == {
            "ok": False,
            "mode": "per-process",
            "detail": body["checks"]["cache"]["detail"],
        }
        assert "Redis not reachable" in body["checks"]["cache"]["detail"]
        assert "127.0.0.1" not in ready.text  # open to anyone: no address
        fresh = "/api/v1/regions?version=2021&level=1&stage=qc_testing&size=small"  # computed now
        for instance in (a, b):
            for path in (fresh, "/api/v1/summary?version=2021"):
                assert deployment.api(instance, "bob", path).status_code == 200
        anna = deployment.session(b, "anna")  # signing in needs no Redis
        assert anna.get(a.url + "/import", timeout=30).status_code == 200
    finally:
        deployment.redis.start()
    for _ in range(40):  # back within the retry interval (2 s)
        if a.get("/readyz").json()["status"] == "ready":
            break
        time.sleep(0.2)
    assert a.get("/readyz").json()["checks"]["cache"] == {"ok": True, "mode": "redis"}
    assert any(
        line.get("message", "").startswith("shared cache (Redis) not reachable") for line in a.log_lines()
    )
