"""The audit log of the running app: sign-ins, exports, API reads, imports, publishing.

Entries go to the survey store's ``audit_log`` table (who, when, role, action, detail) through a
queue drained by one background thread per process: a request never waits for the store's write
lock (an import may hold it for seconds), and entries keep their order. ``record`` is called from
the request that did the thing; outside a request, or before ``configure``, it does nothing.
A store that cannot be written is reported in the server log, entry by entry, never silently.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import queue
import threading
from dataclasses import dataclass

from flask import Flask, current_app, has_request_context

from geodata.store import Store
from geodata.store.models import utc_now

log = logging.getLogger(__name__)
_EXTENSION = "atlas_audit"
#: Characters of detail kept per entry (a query string can be long).
MAX_DETAIL = 500


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    user: str
    role: str
    action: str
    detail: str


class AuditLog:
    """A queue in front of ``store.log_entries``; ``flush`` waits until it is written."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._flushed: list[threading.Event] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[Entry | None] = queue.Queue()
        self._thread = threading.Thread(target=self._drain, name="atlas-audit", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def add(self, user: str, role: str, action: str, detail: str = "") -> None:
        self._queue.put(Entry(utc_now(), user, role, action, detail[:MAX_DETAIL]))

    def flush(self, timeout: float = 30.0) -> None:
        """Wait (up to ``timeout`` seconds) until every entry added so far is written."""
        done = threading.Event()
        with self._lock:  # markers and their events in the same order
            self._flushed.append(done)
            self._queue.put(None)
        done.wait(timeout)

    def _drain(self) -> None:
        while True:
            batch: list[Entry] = []
            item = self._queue.get()
            markers = 0
            while True:
                if item is None:
                    markers += 1
                else:
                    batch.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            for _ in range(markers):
                with self._lock:
                    event = self._flushed.pop(0)
                event.set()

    def _write(self, batch: list[Entry]) -> None:
        try:
            self.store.log_entries([(e.at, e.user, e.role, e.action, e.detail) for e in batch])
        except Exception as exc:  # the log must not stop the app, but nothing is lost unsaid
            for entry in batch:
                log.error(
                    "audit entry not stored (%s): %s %s %s %s %s",
                    type(exc).__name__,
                    entry.at.isoformat(),
                    entry.user,
                    entry.role,
                    entry.action,
                    entry.detail,
                )


def configure(server: Flask, store: Store) -> AuditLog:
    """Keep the audit log of ``server`` in ``store``."""
    audit = AuditLog(store)
    server.extensions[_EXTENSION] = audit
    return audit


def of(server: Flask) -> AuditLog | None:
    """The audit log of ``server``, if configured."""
    found = server.extensions.get(_EXTENSION)
    return found if isinstance(found, AuditLog) else None


def record(action: str, detail: str = "", *, user: str | None = None, role: str | None = None) -> None:
    """Log that the current request's user did ``action`` (e.g. 'sign-in', 'export-sites',
    'api-read') on ``detail``; user and role default to the signed-in ones ('-' when anonymous)."""
    if not has_request_context():
        return
    audit = of(current_app)
    if audit is None:
        return
    from dashboard import auth  # here: auth imports this module

    who = user or auth.current_user_name() or "-"
    under = role or auth.current_role() or "-"
    audit.add(who, under, action, detail)
