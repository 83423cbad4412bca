"""Serving the dashboard in a deployment: ``/readyz``, the request log, the shared cache and the
shared sign-in throttle, wired into the app by ``install``; the WSGI entry point's one-line error.

``install(server, atlas, shared)`` adds the request log (dashboard.serving_log), counts failed
sign-ins in Redis when it is configured (so that spreading guesses over workers gains nothing), and
``GET /readyz``: 200 when the database answers, the NUTS boundaries are loaded and the current
round is in memory with its site index ("ready", or "degraded" while Redis does not answer:
the app then serves from per-process caches), 503 otherwise ("not ready"), with each check's
result. ``/healthz`` (dashboard.auth) only says that the process answers. The settings are
checked before any worker starts by dashboard.serving_check.
"""

from __future__ import annotations

import threading
import time

from flask import Flask, Response, jsonify

from dashboard import auth, serving_log
from dashboard.cache import RedisSettingError, SharedCache, SharedThrottle
from dashboard.data import Atlas, NoPublishedRound
from geodata import readers, store, vocab

READY_PATH = auth.READY_PATH
#: Where a worker announces a round it published (its name).
ROUNDS_CHANNEL = "rounds"


def announce_round(atlas: Atlas, name: str) -> None:
    """Tell the other workers and hosts that round ``name`` was published (through Redis)."""
    if isinstance(atlas.shared, SharedCache):
        atlas.shared.announce(ROUNDS_CHANNEL, name)


def shared_cache() -> SharedCache:
    """The shared cache of ATLAS_REDIS_URL (per-process caches when unset); raises
    readers.InputError for a bad URL, as create_app's other settings."""
    try:
        return SharedCache.from_env()
    except RedisSettingError as exc:
        raise readers.InputError(str(exc)) from None


def load_failure(message: str) -> Exception:
    """What the WSGI entry point raises when the app cannot be built: under gunicorn, an error
    that it reports as one line before stopping (instead of a worker traceback)."""
    try:
        from gunicorn.errors import AppImportError
    except ImportError:  # another WSGI server
        return RuntimeError(f"error: {message}")
    return AppImportError(f"error: {message}")


class Readiness:
    """``/readyz`` of one process."""

    def __init__(self, atlas: Atlas, shared: SharedCache) -> None:
        self.atlas, self.shared = atlas, shared
        self._preparing: set[str] = set()
        self._lock = threading.Lock()

    def checks(self) -> tuple[dict[str, object], int]:
        """The answer and its HTTP status."""
        started = time.perf_counter()
        checks: dict[str, dict[str, object]] = {}
        published = None
        try:
            published = self.atlas.published()
            checks["database"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
        except Exception as exc:  # whatever the driver raises: not ready, and why (no URL, no password)
            checks["database"] = {"ok": False, "detail": f"not reachable ({type(exc).__name__})"}
        try:
            self.atlas.start.level_codes(vocab.NUTS_YEARS[0], max(vocab.NUTS_LEVELS))
            checks["nuts"] = {"ok": True}
        except Exception as exc:
            checks["nuts"] = {"ok": False, "detail": f"boundaries not loaded ({type(exc).__name__})"}
        checks["round"] = self._round(published)
        status = self.shared.status()
        checks["cache"] = {
            "ok": status.ok,
            "mode": status.mode,
            **({"detail": status.detail} if status.detail else {}),
        }
        ready = all(checks[name]["ok"] for name in ("database", "nuts", "round"))
        state = "not ready" if not ready else ("ready" if status.ok else "degraded")
        return {"status": state, "checks": checks}, 200 if ready else 503

    def _round(self, published: list[store.RoundInfo] | None) -> dict[str, object]:
        if published is None:
            return {"ok": False, "detail": "unknown (no database)"}
        try:
            name = self.atlas.default_round(published)
        except NoPublishedRound:
            return {"ok": True, "detail": "no round is published"}
        data = self.atlas.loaded(name)
        if data is not None and data.index.cache_info().currsize > 0:
            return {"ok": True, "detail": "current round indexed"}
        self.prepare_soon(name)  # build it now rather than on the first user's request
        return {"ok": False, "detail": "current round being prepared"}

    def prepare_soon(self, name: str) -> None:
        """Load round ``name`` and build its first views in a background thread (once at a time)."""
        with self._lock:
            start = name not in self._preparing
            self._preparing.add(name)
        if start:
            threading.Thread(target=self._prepare, args=(name,), name="prepare-round", daemon=True).start()

    def _prepare(self, name: str) -> None:
        try:
            self.atlas.prepare(name)
        finally:
            with self._lock:
                self._preparing.discard(name)


def install(server: Flask, atlas: Atlas, shared: SharedCache) -> None:
    """Request log with request ids, and ``GET /readyz`` (open, like /healthz)."""
    serving_log.install(server)
    if shared.shared:  # failed sign-ins counted across workers and hosts
        auth.share_throttle(
            server,
            lambda local: SharedThrottle(
                shared,
                local,
                per_user=auth.MAX_FAILURES_PER_USER,
                per_address=auth.MAX_FAILURES_PER_ADDRESS,
                window=auth.FAILURE_WINDOW,
            ),
        )
    readiness = Readiness(atlas, shared)
    # a round published by another worker or host (dashboard.imports announces it): prepare it
    # now, so that the first requests for it here do not wait for it
    shared.listen(ROUNDS_CHANNEL, readiness.prepare_soon)

    def ready() -> Response:
        body, status = readiness.checks()
        response = jsonify(body)
        response.status_code = status
        return response

    server.add_url_rule(READY_PATH, "atlas_ready", ready, methods=["GET"])
