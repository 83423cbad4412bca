"""Sign-in with roles in front of everything that carries data (Flask-Login on the Flask server).

Roles (DATA_MODEL.md, "Confidentiality"): ``official`` sees everything, ``cluster`` the safe view,
``public`` (anonymous, cluster rules) only when switched on. ``configure(server, demo=, public=)``
installs one ``before_request`` guard: pages redirect to ``/login?next=...``; ``/api/``, ``/_dash-``
and ``/atlas/`` requests (and XHR/JSON ones) get ``401 {"error": "sign in required"}``. Static
assets, ``/login``, ``/logout``, ``/healthz`` and ``/readyz`` stay open. ``Authorization: Bearer <token>``
signs a request in as the token's owner (tokens from ``python -m dashboard.users token NAME``).

In demo mode (the bundled fictional sample) there are no passwords: ``/login`` offers a role
switcher that posts to ``/demo/role/<role>``. On any other data those routes answer 404.
Views ask ``current_role()``; what each role may see is decided where data leaves, not here.
The sign-in page's HTML is rendered by dashboard.login_page.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    has_request_context,
    jsonify,
    redirect,
    request,
    session,
)
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from dashboard import audit, login_page
from dashboard import users as store

log = logging.getLogger(__name__)

SECRET_ENV = "ATLAS_SECRET_KEY"
PUBLIC_ENV = "ATLAS_PUBLIC"
HTTPS_ENV = "ATLAS_HTTPS"
HOW_TO_CONFIGURE = (
    f"set {SECRET_ENV} to a long random string (e.g. python -c 'import secrets; "
    f"print(secrets.token_hex(32))') and {store.USERS_ENV} to the users file made with "
    "python -m dashboard.users add ..."
)
ROLES = ("official", "cluster", "public")
MIN_SECRET_LENGTH = 32
SESSION_LIFETIME = timedelta(hours=8)
LOGIN_PATH, LOGOUT_PATH, HEALTH_PATH, DEMO_PREFIX = "/login", "/logout", "/healthz", "/demo/"
READY_PATH = "/readyz"  # dashboard.serving: database, boundaries, current round (no data in it)
OPEN_PATHS = frozenset({LOGIN_PATH, LOGOUT_PATH, HEALTH_PATH, READY_PATH, "/_favicon.ico"})
#: Served without sign-in, and their Cache-Control is left as the route set it.
STATIC_PREFIXES = ("/assets/", "/_dash-component-suites/")
#: Machine requests: refused with 401 JSON instead of a redirect to the sign-in page.
API_PREFIXES = ("/api/", "/_", "/atlas/")
#: Public GISCO boundaries only: signed in, but the browser may cache them (privately).
GEOMETRY_PREFIXES = ("/atlas/geo/regions-", "/atlas/geo/basemap-")
NO_STORE = "private, no-store"
LOGIN_FAILED = "Unknown user name or wrong password"
#: Seconds a failed sign-in waits before answering, and how many failures lock a name / an address.
FAILED_LOGIN_DELAY = 0.5
MAX_FAILURES_PER_USER, MAX_FAILURES_PER_ADDRESS = 5, 30
FAILURE_WINDOW = 15 * 60
_EXTENSION = "atlas_auth"
_ASSETS = Path(__file__).resolve().parent.parent / "assets"


class ConfigError(Exception):
    """The server cannot start safely; the message names what to set."""


class AuthUser(UserMixin):
    """A signed-in person (or, in demo mode, the chosen demo role)."""

    def __init__(self, name: str, role: str, session_id: str) -> None:
        self.name, self.role, self.session_id = name, role, session_id

    def get_id(self) -> str:
        return self.session_id


@dataclass(frozen=True)
class SignInStatus:
    """What the header shows: ``text`` plus one action (a link; GET /logout is allowed)."""

    text: str
    name: str | None
    role: str
    demo: bool
    action_label: str
    action_href: str


class Throttle(Protocol):
    """Counts failed sign-ins per user name and per address (``_Throttle`` in this process;
    dashboard.cache.SharedThrottle across workers and hosts)."""

    def blocked(self, name: str, address: str) -> bool: ...

    def fail(self, name: str, address: str) -> None: ...

    def clear(self, name: str) -> None: ...


class _Throttle:
    """Failed sign-ins per user name and per address in a sliding window (in-process)."""

    def __init__(self) -> None:
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] < now - FAILURE_WINDOW:
            times.popleft()
        return times

    def blocked(self, name: str, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return (
                len(self._recent(("user", name), now)) >= MAX_FAILURES_PER_USER
                or len(self._recent(("addr", address), now)) >= MAX_FAILURES_PER_ADDRESS
            )

    def fail(self, name: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 10_000:  # forget quiet keys so guessing names cannot fill memory
                recent = now - FAILURE_WINDOW
                self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > recent}
            self._recent(("user", name), now).append(now)
            self._recent(("addr", address), now).append(now)

    def clear(self, name: str) -> None:
        with self._lock:
            self._failures.pop(("user", name), None)


@dataclass
class _State:
    demo: bool
    public: bool
    source: store.UsersFile | None
    throttle: Throttle = field(default_factory=_Throttle)
    stylesheet: str | None = None

    @functools.cached_property
    def dummy_hash(self) -> str:
        """What unknown names are checked against (argon2 takes ~1 s: made on first use, not
        while each worker boots)."""
        return store.hash_password(secrets.token_hex(16))


# --- asking who is there ------------------------------------------------------------------------


def _state() -> _State | None:
    if not has_request_context():
        return None
    return current_app.extensions.get(_EXTENSION)


def current_role() -> str | None:
    """The role of this request: the signed-in user's, ``"public"`` for anonymous requests when
    public access is on, else None (also outside a request or on a server without sign-in)."""
    state = _state()
    if state is None:
        return None
    if current_user.is_authenticated:
        return str(current_user.role)
    return "public" if state.public else None


def current_user_name() -> str | None:
    """The signed-in user's name (``"demo"`` in demo mode), or None."""
    if _state() is None or not current_user.is_authenticated:
        return None
    return str(current_user.name)


def sign_out_link() -> SignInStatus | None:
    """For the header: "Signed in as anna (official)" with "Sign out" (or the demo / public
    variants); None outside a request or when nobody is signed in."""
    state, role = _state(), current_role()
    if state is None or role is None:
        return None
    name = current_user_name()
    if state.demo:
        text = f"Demo on fictional data: {role} view"
        return SignInStatus(text, name, role, True, "Switch role", LOGIN_PATH)
    if name is None:
        return SignInStatus("Public view (not signed in)", None, role, False, "Sign in", LOGIN_PATH)
    return SignInStatus(f"Signed in as {name} ({role})", name, role, False, "Sign out", LOGOUT_PATH)


def env_flag(name: str) -> bool:
    """An on/off setting from the environment: yes/true/1/on or no/false/0/off (unset is off)."""
    value = os.environ.get(name, "").strip().lower()
    if value in ("yes", "true", "1", "on"):
        return True
    if value in ("", "no", "false", "0", "off"):
        return False
    raise ConfigError(f"{name} must be yes or no; got {value!r}")


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else "/" (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(char) < 32 for char in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in (LOGIN_PATH, LOGOUT_PATH):
        return "/"
    return target


# --- configuration ------------------------------------------------------------------------------


def _users_source() -> store.UsersFile:
    secret = os.environ.get(SECRET_ENV, "").strip()
    if not secret:
        raise ConfigError(f"{SECRET_ENV} is not set: {HOW_TO_CONFIGURE}")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"{SECRET_ENV} is too short ({len(secret)} characters, at least {MIN_SECRET_LENGTH}): "
            f"{HOW_TO_CONFIGURE}"
        )
    try:
        path = store.users_path()
        users = store.load_users(path)
    except store.UsersError as exc:
        raise ConfigError(f"{exc}: {HOW_TO_CONFIGURE}") from None
    if not users:
        raise ConfigError(f"users file {path} has no users: {HOW_TO_CONFIGURE}")
    return store.UsersFile(path)


def check_settings(*, demo: bool) -> None:
    """Raise ConfigError naming what to set when ``configure`` would refuse to start (for a boot
    check before any worker starts)."""
    env_flag(PUBLIC_ENV)
    env_flag(HTTPS_ENV)
    if not demo:
        _users_source()


def configure(server: Flask, *, demo: bool, public: bool) -> None:
    """Put sign-in in front of ``server``.

    ``demo``: the bundled fictional sample; no settings needed, a role switcher instead of
    passwords. Otherwise ATLAS_SECRET_KEY and ATLAS_USERS are required (ConfigError naming what
    to set). ``public``: anonymous requests are served as role ``public``. ATLAS_HTTPS=yes marks
    the cookies Secure.
    """
    if _EXTENSION in server.extensions:
        raise ConfigError("sign-in is already configured for this server")
    source = None if demo else _users_source()
    https = env_flag(HTTPS_ENV)
    # Demo runs as one process, so a per-process random key is enough there.
    server.secret_key = os.environ.get(SECRET_ENV, "").strip() or secrets.token_hex(32)
    server.config.update(
        SESSION_COOKIE_NAME="atlas_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=https,
    )
    css = sorted(_ASSETS.glob("*bootstrap*.css"))
    state = _State(demo, public, source, stylesheet=f"/assets/{css[0].name}" if css else None)
    server.extensions[_EXTENSION] = state

    manager = LoginManager()
    manager.init_app(server, add_context_processor=False)
    manager.user_loader(lambda session_id: _load_session_user(state, session_id))
    manager.request_loader(lambda _request: _load_token_user(state))
    server.before_request(_guard)
    server.after_request(_cache_headers)
    _add_routes(server, state)


def share_throttle(server: Flask, make: Callable[[Throttle], Throttle]) -> None:
    """Count failed sign-ins in ``make(local)`` (e.g. one shared by every worker and host, with
    this process's own throttle as its fallback)."""
    state: _State = server.extensions[_EXTENSION]
    state.throttle = make(state.throttle)


def _load_session_user(state: _State, session_id: str) -> AuthUser | None:
    kind, _, rest = session_id.partition(":")
    if state.demo:
        return AuthUser("demo", rest, session_id) if kind == "demo" and rest in ROLES else None
    if kind != "u" or state.source is None:
        return None
    name, _, fingerprint = rest.rpartition(":")
    user = state.source.users().get(name)
    if user is None or not hmac.compare_digest(user.fingerprint, fingerprint):
        return None  # removed, or the password changed since this session began
    return AuthUser(user.name, user.role, session_id)


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _load_token_user(state: _State) -> AuthUser | None:
    token = _bearer_token()
    if token is None or state.source is None:
        return None
    user = store.find_by_token(state.source.users(), token)
    return None if user is None else AuthUser(user.name, user.role, f"u:{user.key}:{user.fingerprint}")


# --- the guard and the cache headers ------------------------------------------------------------


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith((*STATIC_PREFIXES, DEMO_PREFIX))


def _refuse(error: str) -> ResponseReturnValue:
    machine = (
        request.path.startswith(API_PREFIXES)
        or request.method not in ("GET", "HEAD")
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
        or (request.accept_mimetypes.accept_json and not request.accept_mimetypes.accept_html)
    )
    if machine:
        response = jsonify(error=error)
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="atlas"'
        return response
    target = request.full_path if request.query_string else request.path
    return redirect(f"{LOGIN_PATH}?{urlencode({'next': target})}")


def _guard() -> ResponseReturnValue | None:
    """Let a request through only when it is open, signed in, or public access is on."""
    state = current_app.extensions[_EXTENSION]
    if _is_open(request.path) or current_user.is_authenticated:
        return None
    if _bearer_token() is not None:
        return _refuse("invalid or revoked API token")
    if state.public:
        return None
    return _refuse("sign in required")


def _cache_headers(response: Response) -> Response:
    """No shared or stored copies of anything but static assets and (privately) boundaries."""
    path = request.path
    if path.startswith(STATIC_PREFIXES) or path == "/_favicon.ico":
        return response
    cache = response.headers.get("Cache-Control", "")
    if path.startswith(GEOMETRY_PREFIXES) and "max-age" in cache:
        response.headers["Cache-Control"] = cache.replace("public", "private")
    else:
        response.headers["Cache-Control"] = NO_STORE
    return response


# --- the pages ----------------------------------------------------------------------------------


def _csrf_token() -> str:
    if "_csrf" not in session:
        session["_csrf"] = secrets.token_urlsafe(32)
    return str(session["_csrf"])


def _csrf_ok() -> bool:
    sent, kept = request.form.get("csrf_token", ""), session.get("_csrf", "")
    return bool(sent and kept) and hmac.compare_digest(str(sent), str(kept))


#: For the app's other forms (the import pages): the session's CSRF token and its check.
csrf_token, csrf_ok = _csrf_token, _csrf_ok


def stylesheet() -> str | None:
    """The vendored Bootstrap stylesheet's URL, for server-rendered pages."""
    state = _state()
    return state.stylesheet if state else None


def _page(state: _State, *, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    from dashboard.layout import PRODUCT  # here, not at the top: layout may import this module

    html = login_page.render(
        PRODUCT,
        demo=state.demo,
        public=state.public,
        css=state.stylesheet,
        csrf=_csrf_token(),
        next_target=safe_next(request.values.get("next")),
        error=error,
        name=current_user_name(),
        role=current_role(),
    )
    return html, status


def _sign_in(state: _State, user: AuthUser) -> ResponseReturnValue:
    target = safe_next(request.form.get("next"))
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    login_user(user)
    session.permanent = True
    log.info("signed in: %s (%s)", user.name, user.role)
    audit.record("sign-in", user=user.name, role=user.role)
    return redirect(target)


def _add_routes(server: Flask, state: _State) -> None:
    def login() -> ResponseReturnValue:
        if request.method == "GET" or state.demo:
            return _page(state)
        if not _csrf_ok():
            return _page(state, error="The sign-in form had expired; please try again.", status=400)
        typed = request.form.get("username", "").strip().casefold()
        # no account has a name outside the users file's pattern: such input becomes one bounded
        # key, so that it never grows the throttle or the log
        name = typed if store.NAME_PATTERN.match(typed) else "(not a user name)"
        address = request.remote_addr or "?"
        if state.throttle.blocked(name, address):
            return _page(state, error="Too many failed attempts; wait 15 minutes and try again.", status=429)
        assert state.source is not None
        user = state.source.users().get(name)
        # Always run argon2, so that unknown names take as long as wrong passwords.
        checked = store.verify_password(
            user.password_hash if user else state.dummy_hash, request.form.get("password", "")
        )
        if user is None or not checked:
            state.throttle.fail(name, address)
            log.warning("failed sign-in for %r from %s", name, address)
            audit.record("sign-in-failed", f"from {address}", user=name, role="-")
            time.sleep(FAILED_LOGIN_DELAY)
            return _page(state, error=LOGIN_FAILED, status=401)
        state.throttle.clear(name)
        return _sign_in(state, AuthUser(user.name, user.role, f"u:{user.key}:{user.fingerprint}"))

    def logout() -> ResponseReturnValue:
        logout_user()
        session.clear()
        return redirect(LOGIN_PATH)

    def demo_role(role: str) -> ResponseReturnValue:
        if not state.demo or role not in ROLES:
            abort(404)
        if not _csrf_ok():
            return _page(state, error="The form had expired; please try again.", status=400)
        return _sign_in(state, AuthUser("demo", role, f"demo:{role}"))

    def health() -> ResponseReturnValue:
        return {"status": "ok"}

    views: list[tuple[str, str, Callable[..., ResponseReturnValue], list[str]]] = [
        (LOGIN_PATH, "atlas_login", login, ["GET", "POST"]),
        (LOGOUT_PATH, "atlas_logout", logout, ["GET", "POST"]),
        # Registered in every mode so that, off demo, the switcher is a 404 (not a Dash page).
        (DEMO_PREFIX + "role/<role>", "atlas_demo_role", demo_role, ["POST"]),
        (DEMO_PREFIX + "<path:rest>", "atlas_demo_other", lambda rest: abort(404), ["GET", "POST"]),
    ]
    if not any(rule.rule == HEALTH_PATH for rule in server.url_map.iter_rules()):
        views.append((HEALTH_PATH, "atlas_health", health, ["GET"]))
    for rule, endpoint, view, methods in views:
        server.add_url_rule(rule, endpoint, view, methods=methods)
