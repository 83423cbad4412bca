"""Logs of a deployment: one JSON object per line, one line per request, request ids everywhere.

:class:`RequestLog` wraps the WSGI application: every request gets a request id (the client's
``X-Request-ID`` when it is short and plain, else a new random one, as ``hardening.request_id``
reads it), every response carries it in ``X-Request-ID``, and when the response has been sent
one line is logged on ``atlas.request``: route (the URL rule, e.g. ``/api/v1/regions``, never the
query string), the Dash callback's output for callback requests, status, duration in ms and
role. No user name, address, query or body: nothing personal. Errors logged anywhere while a
request is handled carry its id (:class:`RequestIdFilter`), the same id the user sees in the
error message.

:class:`JsonFormatter` writes each record as one JSON line (``logging_config`` sets it up for
gunicorn's and the app's loggers). Imports Flask only (gunicorn's master reads it). No I/O at
import time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, has_request_context, request
from werkzeug.wsgi import ClosingIterator

log = logging.getLogger("atlas.request")

#: The same rule as hardening's: what a client may send as its own request id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
ENVIRON_ROUTE, ENVIRON_ROLE, ENVIRON_CALLBACK = "atlas.route", "atlas.role", "atlas.callback"
LEVELS = ("debug", "info", "warning", "error")
LEVEL_ENV = "ATLAS_LOG_LEVEL"

StartResponse = Callable[..., Any]


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, anything unprintable shown as '?' (as inputs.clip)."""
    head = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return head + "…" if len(text) > limit else head


def log_level() -> str:
    """ATLAS_LOG_LEVEL (debug, info, warning, error; default info). Raises ValueError naming it."""
    value = os.environ.get(LEVEL_ENV, "info").strip().lower() or "info"
    if value not in LEVELS:
        raise ValueError(f"{LEVEL_ENV}={value!r}: use one of {', '.join(LEVELS)}")
    return value


class RequestLog:
    """WSGI middleware: a request id in and out, one log line per request once it is sent."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        sent = environ.get("HTTP_X_REQUEST_ID", "")
        rid = sent if _REQUEST_ID.fullmatch(sent) else secrets.token_hex(8)
        environ["HTTP_X_REQUEST_ID"] = rid  # hardening.request_id() reads the same id
        status = ["-"]

        def start(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = status_line.split(" ", 1)[0]
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append(("X-Request-ID", rid))
            return start_response(status_line, headers, exc_info)

        try:
            body = self.app(environ, start)
        except BaseException:
            _write(environ, rid, "500", started)
            raise
        return ClosingIterator(body, [lambda: _write(environ, rid, status[0], started)])


def _write(environ: dict[str, Any], rid: str, status: str, started: float) -> None:
    fields: dict[str, object] = {
        "event": "request",
        "request_id": rid,
        "method": clip(str(environ.get("REQUEST_METHOD", "-")), 10),
        "route": environ.get(ENVIRON_ROUTE, "(unmatched)"),
        "status": int(status) if status.isdigit() else status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "role": environ.get(ENVIRON_ROLE) or "-",
    }
    if ENVIRON_CALLBACK in environ:
        fields["callback"] = environ[ENVIRON_CALLBACK]
    log.info("request", extra={"fields": fields})


def note_request(response: Response) -> Response:
    """``after_request``: what the log line needs from the request context (route, role,
    callback output), put in the WSGI environ for :class:`RequestLog`."""
    from dashboard import auth  # here: auth is configured after this module is imported

    environ = request.environ
    rule = request.url_rule
    environ[ENVIRON_ROUTE] = clip(rule.rule if rule is not None else "(unmatched)", 100)
    try:
        environ[ENVIRON_ROLE] = auth.current_role()
    except Exception:  # a broken session must not stop the response
        environ[ENVIRON_ROLE] = None
    if request.path.endswith("/_dash-update-component") and response.status_code != 413:
        try:  # Dash has parsed the body already; nothing here may fail the response
            body = request.get_json(silent=True)
        except Exception:
            body = None
        output = body.get("output") if isinstance(body, dict) else None
        if isinstance(output, str):
            environ[ENVIRON_CALLBACK] = clip(output.strip("."), 100)
    return response


def install(server: Flask) -> None:
    """Log one line per request of ``server`` and give every request and response an id."""
    server.after_request(note_request)
    server.wsgi_app = RequestLog(server.wsgi_app)  # type: ignore[method-assign]


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to records logged while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            sent = request.environ.get("HTTP_X_REQUEST_ID", "")
            if _REQUEST_ID.fullmatch(sent):
                record.request_id = sent
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, pid, request_id where
    known, the record's ``fields``, and an exception as class, message and traceback text."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        rid = getattr(record, "request_id", None)
        if rid:
            out["request_id"] = rid
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["exception"] = type(exc).__name__
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def logging_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` (gunicorn's ``logconfig_dict``): JSON lines on stderr for
    gunicorn's error log, the app's loggers and the request log; gunicorn's access log off (the
    request log replaces it)."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"json": handler},
        "root": {"level": level.upper(), "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": ["json"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            # werkzeug's own request lines are for the development server only; Alembic says
            # which plugins it set up each time a worker opens the store
            "werkzeug": {"level": "WARNING"},
            "alembic": {"level": "WARNING"},
        },
    }
