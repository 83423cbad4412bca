"""Fault tests under load: a worker killed, Redis stopped and started, PostgreSQL restarted, a
round published; and a second instance that must serve what the first publishes.

    python bench/faults.py [--users 20] [--think 0.5-1.5] [--phase 25] [--sites 0]
                           [--skip kill redis postgres publish] [--postgres-url URL]

Starts a throw-away deployment (bench/deploy.py): instance A (2 gthread workers x 8 threads,
the one under load) and instance B (1 worker, another "host"), sharing a redis-server of the
bench's own and a PostgreSQL schema. bench/load.py's users (``--users``, think time ``--think``)
work on A for the whole run while the faults follow each other, ``--phase`` seconds apart:

1. **kill**: SIGKILL to one of A's workers. gunicorn's master starts a new one. Reported: failed
   requests (those in flight on the killed worker, or sent on its kept-alive connections), when
   the last one failed, when the replacement was forked and when it answered its first request.
2. **redis**: the redis-server stopped for ``--phase`` / 2 seconds, then started again. Reported:
   failed requests (expected: none), what /readyz said during and after.
3. **postgres**: ``pg_ctlcluster <version> main restart`` (``--pg-cluster``, default: the newest
   cluster in /etc/postgresql; needs the rights to run it: root or postgres). Reported: failed
   requests, how long until requests succeeded again.
4. **publish**: a second round (the same file with other line ends) is uploaded on A's import
   page as an official and followed to its report, then published through A. Reported: failed
   requests; seconds until B (and A) answered the new round for every request after; and whether
   any answer mixed rounds: every ``/api/v1/summary`` answered during the run is compared
   afterwards with the answer for its round named explicitly (``?round=NAME``).

Restarting PostgreSQL cuts every other client of that server too: run this on a machine of its
own (or ``--skip postgres``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy
import load

PHASES = ("kill", "redis", "postgres", "publish")


@dataclass
class Phase:
    name: str
    start: float
    end: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class Answers:
    """Every /api/v1/summary answer of the run: (round, query, totals), to check afterwards."""

    seen: list[tuple[str, str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, kind: str, account: str, answer: requests.Response) -> str | None:
        if kind != "api-summary":
            return None
        body = answer.json()
        query = answer.url.split("?", 1)[1] if "?" in answer.url else ""
        with self.lock:
            self.seen.append((account, str(body["round"]), query, json.dumps(body["totals"], sort_keys=True)))
        return None


def pg_cluster(given: str | None) -> str:
    if given:
        return given
    versions = (
        sorted(os.listdir("/etc/postgresql"), key=lambda v: float(v))
        if Path("/etc/postgresql").is_dir()
        else []
    )
    if not versions:
        raise SystemExit(
            "no PostgreSQL cluster in /etc/postgresql: give --pg-cluster VERSION, or --skip postgres"
        )
    return versions[-1]


def readiness(instance: deploy.Instance) -> str:
    try:
        body = requests.get(instance.url + "/readyz", timeout=5).json()
    except (requests.RequestException, ValueError) as exc:
        return f"no answer ({type(exc).__name__})"
    cache = body["checks"]["cache"]
    return f"{body['status']} (cache {cache['mode']}{'' if cache['ok'] else ', down'})"


def first_request_of(instance: deploy.Instance, pid: int) -> float | None:
    for line in instance.log.read_text(errors="replace").splitlines():
        if line.startswith("{") and f'"pid": {pid}' in line and '"event": "request"' in line:
            return _when(json.loads(line)["time"])
    return None


def _when(stamp: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(stamp).timestamp()


def kill_worker(a: deploy.Instance, phase: Phase, seconds: float) -> None:
    before = a.workers()
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    phase.notes.append(f"SIGKILL to worker {victim}")
    replacement, forked = None, None
    deadline = time.time() + seconds
    while time.time() < deadline:
        fresh = [pid for pid in a.workers() if pid not in before]
        if fresh and replacement is None:
            replacement, forked = fresh[0], time.time()
        if replacement is not None and first_request_of(a, replacement):
            break
        time.sleep(0.2)
    if replacement is None or forked is None:
        phase.notes.append("no replacement worker seen")
        return
    phase.notes.append(f"replacement {replacement} forked after {forked - phase.start:.1f} s")
    served = first_request_of(a, replacement)
    if served:
        phase.notes.append(f"replacement answered its first request after {served - phase.start:.1f} s")


def stop_redis(setup: deploy.Deployment, a: deploy.Instance, phase: Phase, seconds: float) -> None:
    setup.redis.stop()
    time.sleep(min(3.0, seconds / 4))
    phase.notes.append(f"/readyz with Redis down: {readiness(a)}")
    time.sleep(max(0.0, seconds / 2 - min(3.0, seconds / 4)))
    setup.redis.start()
    phase.notes.append(f"Redis started again after {time.time() - phase.start:.1f} s")
    for _ in range(50):
        if readiness(a).startswith("ready"):
            phase.notes.append(f"/readyz ready again after {time.time() - phase.start:.1f} s")
            break
        time.sleep(0.2)


def restart_postgres(version: str, phase: Phase) -> None:
    started = time.time()
    done = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        phase.notes.append(f"pg_ctlcluster failed: {done.stderr.strip()[:200]}")
        return
    phase.notes.append(f"pg_ctlcluster {version} main restart took {time.time() - started:.1f} s")


def upload_round(setup: deploy.Deployment, a: deploy.Instance, name: str) -> requests.Session:
    """A second round on A's import page, followed until stored (not yet published)."""
    official = load.sign_in(a.url, "official-1")
    page = official.get(a.url + "/import", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    content = setup.data.read_bytes().replace(b"\n", b"\r\n")
    answer = official.post(
        a.url + "/import",
        data={"csrf_token": token.group(1), "round": name},
        files={"file": ("second.csv", io.BytesIO(content), "text/csv")},
        timeout=60,
        allow_redirects=False,
    )
    job = answer.headers["Location"]
    for _ in range(1200):
        followed = official.get(a.url + job, timeout=30, allow_redirects=False)
        if followed.status_code == 303:
            return official
        time.sleep(0.25)
    raise RuntimeError("the upload did not finish in 5 minutes")


def publish(
    official: requests.Session,
    a: deploy.Instance,
    instances: list[deploy.Instance],
    name: str,
    phase: Phase,
    token: str,
) -> None:
    report = official.get(f"{a.url}/import/rounds/{name}", timeout=30).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', report)
    assert csrf
    answer = official.post(
        f"{a.url}/import/rounds/{name}/publish",
        data={"csrf_token": csrf.group(1)},
        timeout=60,
        allow_redirects=False,
    )
    published = time.time()
    phase.notes.append(f"publish answered {answer.status_code} in {published - phase.start:.2f} s")
    for instance in instances:
        first, settled, streak = None, None, 0
        while time.time() - published < 30:
            got = requests.get(  # a new connection each time: any worker of the instance
                instance.url + "/api/v1/summary?version=2021",
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
                timeout=30,
            ).json()["round"]
            now = time.time()
            if got == name:
                first = first or now
                streak += 1
                if streak >= 10:
                    settled = settled or now
                    break
            else:
                streak, settled = 0, None
            time.sleep(0.05)
        if first is None:
            phase.notes.append(f"{instance.name}: the new round not served within 30 s")
            continue
        phase.notes.append(
            f"{instance.name}: first answer from the new round {first - published:.2f} s after publishing, "
            f"every answer from it after {(settled or now) - published:.2f} s"
        )


def mixed_rounds(answers: Answers, url: str, tokens: dict[str, str]) -> tuple[int, int]:
    """How many summary answers differ from their round's own answer: (checked, mismatched)."""
    references: dict[tuple[str, str, str], str] = {}
    mismatched = 0
    for account, round_name, query, totals in answers.seen:
        key = (account, round_name, query)
        if key not in references:
            body = requests.get(
                f"{url}/api/v1/summary?{query}&round={round_name}",
                headers={"Authorization": f"Bearer {tokens[account]}"},
                timeout=60,
            ).json()
            references[key] = json.dumps(body["totals"], sort_keys=True)
        mismatched += references[key] != totals
    return len(answers.seen), mismatched


def report(phases: list[Phase], samples: list[load.Sample]) -> None:
    print(f"\n{'phase':<10}{'requests':>9}{'failed':>8}{'last failure':>14}  what happened")
    for phase in phases:  # a request belongs to the phase in which it ended (in flight at a fault: its phase)
        inside = [s for s in samples if phase.start <= s.at + s.ms / 1000 < phase.end]
        failed = [s for s in inside if not s.ok]
        last = max((s.at + s.ms / 1000 - phase.start for s in failed), default=None)
        shown = f"{last:.1f} s" if last is not None else "-"
        print(f"{phase.name:<10}{len(inside):>9}{len(failed):>8}{shown:>14}  " + "; ".join(phase.notes))
        kinds: dict[str, int] = {}
        for s in failed:
            kinds[f"{s.kind} {s.status}"] = kinds.get(f"{s.kind} {s.status}", 0) + 1
        if kinds:
            print(" " * 41 + "failed: " + ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--think", default="0.5-1.5")
    parser.add_argument("--phase", type=float, default=25.0, help="seconds per fault")
    parser.add_argument("--sites", type=int, default=0)
    parser.add_argument("--skip", nargs="*", default=[], choices=PHASES)
    parser.add_argument("--pg-cluster", help="PostgreSQL version of the cluster to restart (default: newest)")
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    version = pg_cluster(args.pg_cluster) if "postgres" not in args.skip else ""
    with deploy.deployment(args.postgres_url, args.sites) as setup:
        a, b = setup.start("a", 2, 8), setup.start("b", 1, 8)
        for instance in (a, b):
            print(f"{instance.name} ready in {setup.wait_ready(instance):.1f} s", file=sys.stderr)
        plan = load.plan(a.url, setup.tokens, setup.data)
        answers = Answers()
        plan.check = answers.check
        official = upload_round(setup, a, "second") if "publish" not in args.skip else None
        time.sleep(5)
        stop = threading.Event()
        samples: list[load.Sample] = []
        crowd = threading.Thread(
            target=lambda: samples.extend(
                load.run_users(plan, args.users, 24 * 3600, load.think_range(args.think), stop)
            )
        )
        crowd.start()
        print(
            f"{args.users} users on A, think {args.think} s; a fault every {args.phase:.0f} s",
            file=sys.stderr,
        )
        phases = [Phase("baseline", time.time())]
        time.sleep(args.phase / 2)
        for name in PHASES:
            if name in args.skip:
                continue
            phases[-1].end = time.time()
            phase = Phase(name, time.time())
            phases.append(phase)
            print(f"fault: {name}", file=sys.stderr)
            if name == "kill":
                kill_worker(a, phase, args.phase)
            elif name == "redis":
                stop_redis(setup, a, phase, args.phase)
            elif name == "postgres":
                restart_postgres(version, phase)
            elif name == "publish" and official is not None:
                publish(official, a, [b, a], "second", phase, setup.tokens["cluster-1"])
            time.sleep(max(0.0, phase.start + args.phase - time.time()))
        phases[-1].end = time.time()
        stop.set()
        crowd.join()
        report(phases, samples)
        failed, took = sum(not s.ok for s in samples), phases[-1].end - phases[0].start
        print(f"\n{len(samples)} requests, {failed} failed, over {took:.0f} s")
        if answers.seen:
            checked, mismatched = mixed_rounds(answers, a.url, setup.tokens)
            print(f"summary answers checked against their own round: {checked}, mixed: {mismatched}")
        load.server_times([a.log, b.log], phases[0].start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
