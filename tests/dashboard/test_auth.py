"""Sign-in in front of everything that carries data, on a plain Flask app with Dash-like routes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask, Response, jsonify
from flask.testing import FlaskClient

from dashboard import auth, users
from dashboard.auth import ConfigError
from dashboard.layout import PRODUCT
from dashboard.users import User

SECRET = "s" * 64
PASSWORDS = {"anna": "anna's long password", "ben": "ben's long password!"}
GEOMETRY_CACHE = "public, max-age=604800, immutable"
XHR = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}
PAGE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
#: (method, path, a browser asking for a page?)
DATA_ROUTES = [
    ("POST", "/_dash-update-component", False),
    ("GET", "/_dash-layout", False),
    ("GET", "/_dash-dependencies", False),
    ("GET", "/atlas/geo/sites-2021.json", False),
    ("GET", "/atlas/geo/regions-2021-3.json", False),
    ("GET", "/api/v1/regions", False),
    ("GET", "/download/regions.csv", True),
    ("GET", "/", True),
]


@pytest.fixture(scope="module")
def accounts() -> list[User]:
    """Hashing is slow on purpose: hash once per module."""
    return [
        User("anna", "official", users.hash_password(PASSWORDS["anna"])),
        User("ben", "cluster", users.hash_password(PASSWORDS["ben"])),
    ]


@pytest.fixture
def users_file(tmp_path: Path, accounts: list[User], monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "users.json"
    users.save_users(path, accounts)
    monkeypatch.setenv("ATLAS_USERS", str(path))
    monkeypatch.setenv("ATLAS_SECRET_KEY", SECRET)
    monkeypatch.delenv("ATLAS_HTTPS", raising=False)
    monkeypatch.setattr(auth, "FAILED_LOGIN_DELAY", 0)
    return path


def dashlike_app() -> Flask:
    """Routes that mimic the Dash app's: each answers with the role it was served for."""
    app = Flask("dashlike")

    def role() -> Response:
        return jsonify(role=auth.current_role(), name=auth.current_user_name())

    for rule in ("/_dash-layout", "/_dash-dependencies", "/api/v1/regions", "/download/regions.csv", "/"):
        app.add_url_rule(rule, rule, role)
    app.add_url_rule("/_dash-update-component", "update", role, methods=["POST"])

    @app.route("/atlas/geo/sites-2021.json")
    def sites() -> Response:
        response = role()
        response.headers["Cache-Control"] = "private, max-age=604800, immutable"
        return response

    @app.route("/atlas/geo/regions-2021-3.json")
    def regions() -> Response:
        return Response("{}", mimetype="application/geo+json", headers={"Cache-Control": GEOMETRY_CACHE})

    @app.route("/assets/x.css")
    def css() -> Response:
        return Response("body {}", mimetype="text/css", headers={"Cache-Control": "public, max-age=3600"})

    @app.route("/_dash-component-suites/x.js")
    def js() -> Response:
        return Response("1", mimetype="text/javascript")

    return app


@pytest.fixture
def make_client(users_file: Path) -> Callable[..., FlaskClient]:
    def make(*, demo: bool = False, public: bool = False) -> FlaskClient:
        app = dashlike_app()
        auth.configure(app, demo=demo, public=public)
        return app.test_client()

    return make


@pytest.fixture
def client(make_client: Callable[..., FlaskClient]) -> FlaskClient:
    return make_client()


def csrf(client: FlaskClient, path: str = "/login") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match, "no CSRF token in the form"
    return match.group(1)


def sign_in(client: FlaskClient, name: str, password: str | None = None, next_: str = "/"):
    data = {"username": name, "password": password or PASSWORDS[name.lower()], "next": next_}
    return client.post("/login", data={**data, "csrf_token": csrf(client)})


def request(client: FlaskClient, method: str, path: str, **kwargs):
    return client.open(path, method=method, **kwargs)


# --- refused without sign-in ------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "page"), DATA_ROUTES)
def test_data_routes_refuse_anonymous_requests(
    client: FlaskClient, method: str, path: str, page: bool
) -> None:
    response = request(client, method, path, headers=XHR)
    assert response.status_code == 401
    assert response.get_json() == {"error": "sign in required"}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="atlas"'
    browser = request(client, method, path, headers=PAGE)
    if page:
        assert browser.status_code == 302
        assert browser.headers["Location"] == f"/login?next={path.replace('/', '%2F')}"
    else:
        assert browser.status_code == 401
        assert browser.get_json() == {"error": "sign in required"}
    assert browser.headers["Cache-Control"] == "private, no-store"


def test_redirect_keeps_the_query(client: FlaskClient) -> None:
    response = client.get("/?level=3&version=2021", headers=PAGE)
    assert response.headers["Location"] == "/login?next=%2F%3Flevel%3D3%26version%3D2021"


def test_open_routes(client: FlaskClient) -> None:
    css = client.get("/assets/x.css")
    assert css.status_code == 200 and css.headers["Cache-Control"] == "public, max-age=3600"
    js = client.get("/_dash-component-suites/x.js")
    assert js.status_code == 200 and "Cache-Control" not in js.headers
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/login").status_code == 200
    assert client.get("/logout").status_code == 302


# --- the sign-in form ---------------------------------------------------------------------------


def test_login_page(client: FlaskClient) -> None:
    html = client.get("/login?next=/api/v1/regions").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert PRODUCT in html
    assert '<label for="username"' in html and 'id="username" name="username"' in html
    assert '<label for="password"' in html and 'name="password" type="password"' in html
    assert '<form method="post" action="/login">' in html
    assert 'name="next" value="/api/v1/regions"' in html
    css = sorted((Path(auth.__file__).parents[1] / "assets").glob("*bootstrap*.css"))
    assert css, "the vendored Bootstrap CSS is expected in assets/"
    assert f'<link rel="stylesheet" href="/assets/{css[0].name}">' in html
    assert "role switcher" not in html and "/demo/role/" not in html


def test_sign_in_and_out(client: FlaskClient) -> None:
    response = sign_in(client, "anna", next_="/api/v1/regions?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/api/v1/regions?x=1"
    for method, path, _page in DATA_ROUTES:
        response = request(client, method, path, headers=XHR)
        assert response.status_code == 200, path
        if path != "/atlas/geo/regions-2021-3.json":
            assert response.get_json() == {"role": "official", "name": "anna"}
            assert response.headers["Cache-Control"] == "private, no-store"
    regions = client.get("/atlas/geo/regions-2021-3.json")
    assert regions.headers["Cache-Control"] == "private, max-age=604800, immutable"

    response = client.post("/logout")
    assert (response.status_code, response.headers["Location"]) == (302, "/login")
    assert client.get("/api/v1/regions").status_code == 401


def test_cluster_user_gets_cluster_role(client: FlaskClient) -> None:
    sign_in(client, "BEN")  # user names are case-insensitive
    assert client.get("/api/v1/regions").get_json() == {"role": "cluster", "name": "ben"}
    client.get("/logout")
    assert client.get("/api/v1/regions").status_code == 401


def test_session_cookie_flags(client: FlaskClient) -> None:
    [cookie] = sign_in(client, "anna").headers.getlist("Set-Cookie")
    assert cookie.startswith("atlas_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    assert "Expires=" in cookie  # sessions end (8 hours)


def test_secure_cookie_over_https(make_client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLAS_HTTPS", "yes")
    client = make_client()
    [cookie] = sign_in(client, "anna").headers.getlist("Set-Cookie")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize(
    ("name", "password"), [("anna", "wrong password!"), ("nobody", "anna's long password")]
)
def test_wrong_password_and_unknown_user_look_the_same(client: FlaskClient, name: str, password: str) -> None:
    response = sign_in(client, name, password)
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "Unknown user name or wrong password" in html
    assert "nobody" not in html
    assert client.get("/api/v1/regions").status_code == 401


def test_a_huge_or_hostile_user_name_is_one_bounded_failure(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = "<script>alert(1)</script>" + "x" * 100_000
    with caplog.at_level("WARNING"):
        response = sign_in(client, hostile, "whatever-password")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "Unknown user name or wrong password" in html
    assert "<script>alert(1)" not in html and "x" * 1000 not in html
    assert caplog.records and all(len(r.getMessage()) < 300 for r in caplog.records)
    assert client.get("/api/v1/regions").status_code == 401


def test_form_without_the_csrf_token_is_refused(client: FlaskClient) -> None:
    client.get("/login")
    data = {"username": "anna", "password": PASSWORDS["anna"]}
    assert client.post("/login", data=data).status_code == 400
    assert client.post("/login", data={**data, "csrf_token": "forged"}).status_code == 400
    assert client.get("/api/v1/regions").status_code == 401


def test_repeated_failures_are_throttled(client: FlaskClient) -> None:
    for _ in range(auth.MAX_FAILURES_PER_USER):
        assert sign_in(client, "anna", "wrong password!").status_code == 401
    response = sign_in(client, "anna")  # even the right password, until the window has passed
    assert response.status_code == 429
    assert "Too many failed attempts" in response.get_data(as_text=True)
    assert sign_in(client, "ben").status_code == 302  # other names are not affected


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "evil.example",
        "/logout",
        "",
    ],
)
def test_no_open_redirect(client: FlaskClient, target: str) -> None:
    assert auth.safe_next(target) == "/"
    response = sign_in(client, "anna", next_=target)
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/", "/api/v1/regions", "/?level=3&version=2021", "/sites#map"])
def test_local_next_is_kept(target: str) -> None:
    assert auth.safe_next(target) == target


def test_password_change_ends_sessions(client: FlaskClient, users_file: Path, accounts: list[User]) -> None:
    sign_in(client, "anna")
    assert client.get("/api/v1/regions").status_code == 200
    anna = User("anna", "official", users.hash_password("a brand new password"))
    users.save_users(users_file, [anna, accounts[1]])
    assert client.get("/api/v1/regions").status_code == 401


def test_role_change_applies_at_once(client: FlaskClient, users_file: Path, accounts: list[User]) -> None:
    sign_in(client, "anna")
    users.save_users(users_file, [User("anna", "cluster", accounts[0].password_hash), accounts[1]])
    assert client.get("/api/v1/regions").get_json()["role"] == "cluster"


# --- API tokens ---------------------------------------------------------------------------------


def test_bearer_token(client: FlaskClient, users_file: Path, accounts: list[User]) -> None:
    token, stored = users.new_token()
    users.save_users(users_file, [accounts[0], User("ben", "cluster", accounts[1].password_hash, (stored,))])
    response = client.get("/api/v1/regions", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json() == {"role": "cluster", "name": "ben"}
    assert "Set-Cookie" not in response.headers  # a token request does not open a session
    assert client.get("/api/v1/regions").status_code == 401

    wrong = client.get("/api/v1/regions", headers={"Authorization": f"Bearer {token}x"})
    assert wrong.status_code == 401
    assert wrong.get_json() == {"error": "invalid or revoked API token"}

    users.save_users(users_file, accounts)  # revoked
    revoked = client.get("/api/v1/regions", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401


# --- public access ------------------------------------------------------------------------------


def test_public_role_only_when_switched_on(make_client) -> None:
    assert make_client().get("/api/v1/regions").status_code == 401
    public = make_client(public=True)
    for method, path, _page in DATA_ROUTES:
        assert request(public, method, path).status_code == 200, path
    assert public.get("/api/v1/regions").get_json() == {"role": "public", "name": None}
    assert "Continue without signing in" in public.get("/login").get_data(as_text=True)
    sign_in(public, "anna")
    assert public.get("/api/v1/regions").get_json()["role"] == "official"
    # A wrong token is refused, never served as public.
    wrong = make_client(public=True).get("/api/v1/regions", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_env_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, expected in [("yes", True), ("ON", True), ("1", True), ("no", False), ("", False)]:
        monkeypatch.setenv("ATLAS_PUBLIC", value)
        assert auth.env_flag("ATLAS_PUBLIC") is expected
    monkeypatch.setenv("ATLAS_PUBLIC", "maybe")
    with pytest.raises(ConfigError, match="ATLAS_PUBLIC must be yes or no; got 'maybe'"):
        auth.env_flag("ATLAS_PUBLIC")


# --- demo mode ----------------------------------------------------------------------------------


def test_demo_role_switcher(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ATLAS_SECRET_KEY", "ATLAS_USERS", "ATLAS_HTTPS"):
        monkeypatch.delenv(name, raising=False)
    app = dashlike_app()
    auth.configure(app, demo=True, public=False)
    client = app.test_client()
    assert client.get("/api/v1/regions").status_code == 401

    html = client.get("/login?next=/api/v1/regions").get_data(as_text=True)
    assert "Demo on fictional data" in html
    assert 'name="password"' not in html
    for role in ("official", "cluster", "public"):
        assert f'action="/demo/role/{role}"' in html

    token = csrf(client)
    assert client.post("/demo/role/official", data={"next": "/"}).status_code == 400  # no CSRF token
    response = client.post("/demo/role/cluster", data={"csrf_token": token, "next": "/api/v1/regions"})
    assert (response.status_code, response.headers["Location"]) == (302, "/api/v1/regions")
    assert client.get("/api/v1/regions").get_json() == {"role": "cluster", "name": "demo"}
    with app.test_request_context():
        assert auth.current_role() is None  # a fresh request without the session

    client.post("/demo/role/official", data={"csrf_token": csrf(client)})
    assert client.get("/api/v1/regions").get_json()["role"] == "official"
    assert client.post("/demo/role/admin", data={"csrf_token": csrf(client)}).status_code == 404
    client.get("/logout")
    assert client.get("/api/v1/regions").status_code == 401


def test_no_switcher_off_demo(client: FlaskClient) -> None:
    assert client.post("/demo/role/official").status_code == 404
    sign_in(client, "ben")
    token = csrf(client)
    assert client.post("/demo/role/official", data={"csrf_token": token}).status_code == 404
    assert client.get("/demo/role/official").status_code == 404
    assert client.get("/api/v1/regions").get_json()["role"] == "cluster"


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"ATLAS_SECRET_KEY": None}, "ATLAS_SECRET_KEY is not set"),
        ({"ATLAS_SECRET_KEY": "short"}, "ATLAS_SECRET_KEY is too short (5 characters, at least 32)"),
        ({"ATLAS_USERS": None}, "ATLAS_USERS is not set"),
        ({"ATLAS_USERS": "/nonexistent/users.json"}, "users file /nonexistent/users.json does not exist"),
        ({"ATLAS_USERS": "{broken}"}, "is not valid JSON"),
        ({"ATLAS_USERS": '{"users": []}'}, "has no users"),
    ],
)
def test_config_errors_name_what_to_set(
    users_file: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str | None], problem: str
) -> None:
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name)
        elif value.startswith("{"):
            users_file.write_text(value, encoding="utf-8")
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        auth.configure(dashlike_app(), demo=False, public=False)
    message = str(info.value)
    assert problem in message
    assert message.endswith(
        "set ATLAS_SECRET_KEY to a long random string (e.g. python -c 'import secrets; "
        "print(secrets.token_hex(32))') and ATLAS_USERS to the users file made with "
        "python -m dashboard.users add ..."
    )


def test_configure_twice_is_refused(users_file: Path) -> None:
    app = dashlike_app()
    auth.configure(app, demo=False, public=False)
    with pytest.raises(ConfigError, match="already configured"):
        auth.configure(app, demo=False, public=False)


# --- asking who is there ------------------------------------------------------------------------


def test_helpers_outside_a_request() -> None:
    assert auth.current_role() is None
    assert auth.current_user_name() is None
    assert auth.sign_out_link() is None


def test_sign_out_link(make_client) -> None:
    client = make_client(public=True)
    with client:
        client.get("/api/v1/regions")
        status = auth.sign_out_link()
        assert status is not None
        assert (status.text, status.action_label, status.action_href) == (
            "Public view (not signed in)",
            "Sign in",
            "/login",
        )
    sign_in(client, "anna")
    with client:
        client.get("/api/v1/regions")
        assert auth.sign_out_link() == auth.SignInStatus(
            "Signed in as anna (official)", "anna", "official", False, "Sign out", "/logout"
        )
