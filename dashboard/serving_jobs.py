"""Where background jobs (imports) keep their state, so that every worker and host can show it.

The import pages are Flask pages (``dashboard.imports``): the upload lands on one worker, which
runs the import in a thread, and the job page that follows it may be answered by any worker (or
host). So the job's state (status, progress lines, the round made, the error) lives outside the
process:

* in Redis when ``ATLAS_REDIS_URL`` is set (``atlas:v1:job:<id>``, JSON, kept 7 days, and a
  sorted set of the recent ids): every host sees it;
* else, and while Redis does not answer, in a diskcache folder on this host (``ATLAS_JOBS_DIR``,
  default: beside a SQLite store's file, else in the user cache folder, one subfolder per survey
  store), which every worker of the host shares (``python app.py`` and gunicorn on one machine).

A running job writes a heartbeat every ``BEAT_SECONDS``; a job whose heartbeat stopped for
``STALE_SECONDS`` (its worker was killed or restarted) is shown as failed, never as running
forever. The import itself is one transaction (``Store.import_file``): a killed worker leaves the
store as it was. No I/O at import time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import diskcache
import platformdirs
import sqlalchemy as sa

from dashboard.cache import REDIS_DOWN, SharedCache

log = logging.getLogger(__name__)

JOBS_DIR_ENV = "ATLAS_JOBS_DIR"
#: Jobs listed (newest first) and how long a job's state is kept.
KEEP = 50
KEEP_SECONDS = 7 * 24 * 3600
BEAT_SECONDS = 5.0
STALE_SECONDS = 60.0
STOPPED = (
    "the server running this import stopped before it finished; nothing was stored, import the file again"
)


def jobs_folder(store_url: str) -> Path:
    """ATLAS_JOBS_DIR; else, for a SQLite store, a folder beside its file; else a folder in the
    user cache named after the store."""
    configured = os.environ.get(JOBS_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    url = sa.make_url(store_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return Path(url.database).expanduser().parent / "atlas-jobs"
    tag = hashlib.sha256(store_url.encode()).hexdigest()[:12]
    return Path(platformdirs.user_cache_dir("vaccine-capacity-atlas")) / "jobs" / tag


class JobBoard:
    """Job states (JSON-able dicts with ``id``, ``status``, ``started`` as a timestamp and
    ``beat``), in Redis when ``shared`` has it and it answers, else in ``folder``."""

    def __init__(self, folder: Path, shared: SharedCache | None = None) -> None:
        self.folder = folder
        self.shared = shared if shared is not None and shared.redis is not None else None
        self._disk: diskcache.Cache | None = None

    @property
    def where(self) -> str:
        return "redis" if self.shared is not None else "disk"

    def _local(self) -> diskcache.Cache:
        if self._disk is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._disk = diskcache.Cache(str(self.folder))
        return self._disk

    def save(self, state: dict[str, Any]) -> None:
        """Write one job's state (with a fresh heartbeat)."""
        state = {**state, "beat": time.time()}
        text = json.dumps(state, default=str)
        if self.shared is not None and self.shared.available():
            assert self.shared.redis is not None
            prefix = self.shared.prefix
            try:
                with self.shared.redis.pipeline() as pipe:
                    pipe.set(f"{prefix}job:{state['id']}", text, ex=KEEP_SECONDS)
                    pipe.zadd(f"{prefix}jobs", {state["id"]: float(state["started"])})
                    pipe.zremrangebyrank(f"{prefix}jobs", 0, -KEEP - 1)
                    pipe.execute()
                return
            except REDIS_DOWN as exc:
                self.shared.failed(exc)
        disk = self._local()
        with disk.transact():
            disk.set(f"job:{state['id']}", text, expire=KEEP_SECONDS)
            ids = [i for i in disk.get("jobs", []) if i != state["id"]]
            disk.set("jobs", [*ids, state["id"]][-KEEP:])

    def load(self, job_id: str) -> dict[str, Any] | None:
        """One job's state (a stopped one marked failed), or None."""
        text = None
        if self.shared is not None and self.shared.available():
            assert self.shared.redis is not None
            try:
                text = self.shared.redis.get(f"{self.shared.prefix}job:{job_id}")
            except REDIS_DOWN as exc:
                self.shared.failed(exc)
        if text is None:
            text = self._local().get(f"job:{job_id}")
        return _checked(json.loads(text)) if text else None

    def recent(self) -> list[dict[str, Any]]:
        """The recent jobs, oldest first."""
        ids: list[str] = []
        if self.shared is not None and self.shared.available():
            assert self.shared.redis is not None
            try:
                listed = self.shared.redis.zrange(f"{self.shared.prefix}jobs", 0, -1)
                ids = [i.decode() if isinstance(i, bytes) else str(i) for i in listed]
            except REDIS_DOWN as exc:
                self.shared.failed(exc)
        ids += [i for i in self._local().get("jobs", []) if i not in ids]
        found = [self.load(job_id) for job_id in ids]
        return sorted((s for s in found if s is not None), key=lambda s: float(s["started"]))


def _checked(state: dict[str, Any]) -> dict[str, Any]:
    if state.get("status") == "running" and time.time() - float(state.get("beat", 0)) > STALE_SECONDS:
        return {**state, "status": "failed", "error": STOPPED}
    return state
