"""The Flask server's guards: body limit, callback request checks, request ids, short errors.

:func:`harden` guards the Flask server: a body limit, a shape check of Dash callback requests
(:func:`check_callback_body`), and error handlers that answer 400/413/500 with a short JSON body
(or a short HTML page) and a request id (:func:`request_id`), never a traceback, and log one
bounded line per error. :func:`callback_error_handler` is Dash's ``on_error``: an exception
inside a callback is logged the same way and the page keeps what it shows. The parsers of the
callback values themselves are in dashboard.inputs. No I/O happens at import time.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Callable
from types import TracebackType

from flask import Flask, Response, g, has_request_context, jsonify, request
from markupsafe import escape
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from dashboard.inputs import clip

log = logging.getLogger(__name__)

#: Paths answered in JSON (as are XHR and JSON requests); other errors get a short HTML page.
JSON_PREFIXES = ("/api/", "/atlas/")
DASH_PREFIX = "/_dash-"
DASH_UPDATE = "/_dash-update-component"
#: Most dependencies (outputs, inputs, states, changed ids) one callback request may name.
MAX_DEPENDENCIES = 64
MAX_ID_CHARS = 256
MAX_OUTPUT_CHARS = 4096
PATH_CHARS = 200
MESSAGE_CHARS = 80
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_EXTENSION = "atlas_hardening"
# Dash functions that only read the request: an exception raised in them means the client sent
# a body that does not fit the callback (unknown output, wrong number of inputs), not a bug.
_DASH_READERS = frozenset(
    {
        "_initialize_context",
        "_prepare_callback",
        "inputs_to_dict",
        "inputs_to_vals",
        "validate_output_spec",
        "validate_and_group_input_args",
    }
)
_MESSAGES = {
    400: ("Bad request", "Bad request: the server could not understand it."),
    413: ("Request too large", "The request body is larger than this server accepts."),
    500: ("Internal error", "Something went wrong on the server; the administrators can find it in the log."),
}


def harden(server: Flask, *, max_body: int = 256 * 1024) -> None:
    """Limit request bodies to ``max_body`` bytes and answer errors short, without a traceback.

    Registers on ``server``: MAX_CONTENT_LENGTH; a ``before_request`` check that refuses bodies
    over the limit (413) and Dash callback requests whose JSON is not an object of bounded
    lists of dependencies (400); error handlers that answer 400, 413 and every uncaught exception
    (500, also when PROPAGATE_EXCEPTIONS/TESTING is on) with ``{"error", "request_id"}`` on
    ``/_dash-``, ``/api/``, ``/atlas/`` paths and XHR/JSON requests, and a short HTML page
    elsewhere. Other HTTP errors (404, 401, ...) pass through unchanged. Each error is logged as
    one line: request id, method, path (cut to 200 characters), status, exception class and a
    cut message, never the body. Dash's own debug mode (``app.run(debug=True)``) replaces the
    500 handler with its traceback page; that is for development only.
    """
    if max_body <= 0:
        raise ValueError(f"max_body must be a positive number of bytes; got {max_body!r}")
    if _EXTENSION in server.extensions:
        raise ValueError("harden() was already applied to this server")
    server.extensions[_EXTENSION] = {"max_body": max_body, "uploads": {}}
    server.config["MAX_CONTENT_LENGTH"] = max_body

    def check_request() -> Response | None:
        length = request.content_length
        limit = max_body
        upload = server.extensions[_EXTENSION]["uploads"].get(request.path)
        if upload is not None and request.method == "POST" and upload[1]():
            limit = request.max_content_length = upload[0]
        if length is not None and length > limit:
            raise RequestEntityTooLarge()
        if request.method != "POST" or not request.path.endswith(DASH_UPDATE):
            return None
        try:
            body = request.get_json(silent=True)  # a body over the limit raises 413 here
        except RecursionError:  # nesting deeper than the JSON decoder can follow
            body = None
        problem = check_callback_body(body)
        if problem is None:
            return None
        _log(logging.WARNING, 400, f"bad callback request: {problem}")
        return _error_response(400, f"Bad callback request: {problem}.")

    def handle(exc: Exception) -> Response | HTTPException:
        if isinstance(exc, HTTPException):
            if exc.code not in (400, 413, 500):
                return exc  # 401, 404, 405 ... as Flask and the other handlers answer them
            status = exc.code
            original = getattr(exc, "original_exception", None)
            cause: BaseException = original if isinstance(original, BaseException) else exc
        elif request.path.endswith(DASH_UPDATE) and _raised_reading_dash_request(exc):
            _log(logging.WARNING, 400, "bad callback request", exc)
            return _error_response(400, "Bad callback request: it does not match a callback of this page.")
        else:
            status, cause = 500, exc
        _log(logging.ERROR if status >= 500 else logging.WARNING, status, "request failed", cause)
        return _error_response(status)

    server.before_request(check_request)
    # HTTPException too: Dash's debug mode replaces the handler of Exception with its traceback
    # page, which would turn a 403 or 404 into a 500; this one is found first for any HTTP error
    for key in (400, 413, 500, HTTPException, Exception):
        server.register_error_handler(key, handle)


def allow_upload(server: Flask, path: str, limit: int, allowed: Callable[[], bool]) -> None:
    """Let POSTs to ``path`` carry up to ``limit`` bytes when ``allowed()`` says so (e.g. the
    signed-in role may upload); every other request keeps ``harden``'s limit."""
    if _EXTENSION not in server.extensions:
        raise ValueError("apply harden() before allow_upload()")
    server.extensions[_EXTENSION]["uploads"][path] = (limit, allowed)


def check_callback_body(body: object) -> str | None:
    """What is wrong with a parsed ``/_dash-update-component`` body, or None when its shape is sound.

    Dash expects an object with ``output`` (text), ``outputs`` (one dependency or a list),
    ``inputs`` and optional ``state`` (lists of dependencies: ``{"id", "property", "value"}``,
    or lists of them for pattern-matching ALL) and optional ``changedPropIds`` (list of text).
    Each list may name at most MAX_DEPENDENCIES dependencies. Values are not looked at here.
    """
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or not 0 < len(output) <= MAX_OUTPUT_CHARS:
        return "'output' must be the text of a callback output"
    if "outputs" not in body:
        return "'outputs' is missing"
    outputs = body["outputs"]
    # Dash names several outputs as "..a.b...c.d.." and sends them as a list; one output as an object
    if output.startswith("..") != isinstance(outputs, list):
        return "'outputs' must be a list for several outputs and an object for one"
    for key, value in (
        ("outputs", [outputs] if isinstance(outputs, dict) else outputs),
        ("inputs", body.get("inputs")),
        ("state", body.get("state", [])),
    ):
        problem = _dependencies_problem(value)
        if problem:
            return f"'{key}' {problem}"
    changed = body.get("changedPropIds", [])
    if not (
        isinstance(changed, list)
        and len(changed) <= MAX_DEPENDENCIES
        and all(isinstance(c, str) and len(c) <= MAX_OUTPUT_CHARS for c in changed)
    ):
        return f"'changedPropIds' must be a list of at most {MAX_DEPENDENCIES} texts"
    parsed = body.get("parsedChangedPropsIds", [])
    if not isinstance(parsed, list) or len(parsed) > MAX_DEPENDENCIES:
        return f"'parsedChangedPropsIds' must be a list of at most {MAX_DEPENDENCIES} entries"
    return None


def _dependencies_problem(value: object) -> str | None:
    if not isinstance(value, list):
        return "must be a list"
    count = 0
    for item in value:
        group = item if isinstance(item, list) else [item]
        count += len(group)
        if count > MAX_DEPENDENCIES:
            return f"must name at most {MAX_DEPENDENCIES} dependencies"
        if not all(_is_dependency(d) for d in group):
            return "must hold only {id, property, value} objects"
    return None


def _is_dependency(item: object) -> bool:
    if not isinstance(item, dict):
        return False
    id_, prop = item.get("id"), item.get("property")
    if not isinstance(prop, str) or not 0 < len(prop) <= MAX_ID_CHARS:
        return False
    if isinstance(id_, str):
        return 0 < len(id_) <= MAX_ID_CHARS
    return (
        isinstance(id_, dict)
        and 0 < len(id_) <= 8
        and all(
            isinstance(k, str)
            and len(k) <= MAX_ID_CHARS
            and (
                (isinstance(v, str) and len(v) <= MAX_ID_CHARS)
                or (isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < 2**53)
                or isinstance(v, bool)
            )
            for k, v in id_.items()
        )
    )


def _raised_reading_dash_request(exc: BaseException) -> bool:
    """Whether Dash raised ``exc`` while matching the request to its callback (see _DASH_READERS)."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name in _DASH_READERS and str(frame.f_globals.get("__name__", "")).startswith(
            "dash."
        ):
            return True
        tb = tb.tb_next
    return False


def callback_error_handler(err: Exception) -> None:
    """Dash ``on_error`` for the whole app: log one bounded line, return nothing.

    Dash 4 calls it for an exception raised inside a callback function (not for PreventUpdate,
    which still answers 204); returning None makes Dash answer "no update" for every output, so
    the page keeps showing what it showed. Exceptions Dash raises before or after the function
    (matching the request, serialising the result) go to the Flask handlers of :func:`harden`.
    """
    output = None
    try:
        body = request.get_json(silent=True) if has_request_context() else None
        output = body.get("output") if isinstance(body, dict) else None
    except Exception:  # nothing about the request may stop the error from being logged
        output = None
    where = f"callback {clip(output, PATH_CHARS)}" if isinstance(output, str) else "callback"
    _log(logging.ERROR, None, f"{where} failed", err)


def callback_errors(shown_in: str) -> Callable[[Exception], None]:
    """Dash ``on_error`` that also tells the user: as :func:`callback_error_handler`, and the
    component ``shown_in`` of the page (a notice line) says that something went wrong, with the
    request id to quote (the id of the log line)."""

    def handle(err: Exception) -> None:
        callback_error_handler(err)
        if has_request_context():
            from dash import set_props  # here: this module otherwise needs Flask only

            message = f"Something went wrong on the server (reference {request_id()}); please try again."
            set_props(shown_in, {"children": message})

    return handle


def request_id() -> str:
    """This request's id: the client's X-Request-ID when it is short and plain, else a new random one."""
    if not has_request_context():
        return "-"
    if "atlas_request_id" not in g:
        sent = request.headers.get("X-Request-ID", "")
        g.atlas_request_id = sent if _REQUEST_ID.fullmatch(sent) else secrets.token_hex(8)
    return str(g.atlas_request_id)


def _wants_json() -> bool:
    path = request.path
    accept = request.accept_mimetypes
    return (
        path.startswith(JSON_PREFIXES)
        or DASH_PREFIX in path
        or request.is_json
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
        or (accept.accept_json and not accept.accept_html)
    )


def _error_response(status: int, message: str | None = None) -> Response:
    title, default = _MESSAGES[status]
    message = message or default
    rid = request_id()
    if _wants_json():
        response = jsonify(error=message, request_id=rid)
    else:
        page = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"</head><body><h1>{escape(title)}</h1><p>{escape(message)}</p>"
            f"<p>Reference: {escape(rid)}</p></body></html>"
        )
        response = Response(page, mimetype="text/html")
    response.status_code = status
    response.headers["X-Request-ID"] = rid
    response.headers["Cache-Control"] = "no-store"
    return response


def _log(level: int, status: int | None, what: str, exc: BaseException | None = None) -> None:
    """One line: what happened, request id, method, path, status, exception class, message, place."""
    parts = [what, f"request_id={request_id()}"]
    if has_request_context():
        parts += [f"method={clip(request.method, 10)}", f"path={clip(request.path, PATH_CHARS)}"]
    if status is not None:
        parts.append(f"status={status}")
    if exc is not None:
        parts += [f"exception={type(exc).__name__}", f"message={_message(exc)}", f"at={_place(exc)}"]
    log.log(level, " ".join(parts))


def _message(exc: BaseException) -> str:
    try:
        first = exc.args[0] if exc.args else ""
        text = first if isinstance(first, str) else str(exc)
    except Exception:  # a broken __str__ must not hide the original error
        text = "?"
    return repr(clip(text, MESSAGE_CHARS))


def _place(exc: BaseException) -> str:
    """Where ``exc`` was raised (file:line function of the innermost frame), without source or values."""
    tb = exc.__traceback__
    if tb is None:
        return "-"
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f"{os.path.basename(code.co_filename)}:{tb.tb_lineno}:{code.co_name}"
