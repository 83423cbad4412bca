"""Starting the app: the demo on the sample, and refusal to serve real data without sign-in set up."""

from __future__ import annotations

import shutil

import pytest

import app as atlas
from dashboard import auth, users
from dashboard.data import SAMPLE_FILE

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def own_store(tmp_path, monkeypatch):
    """Each test its own survey store: the rounds published here must not become the newest
    round of the other tests' apps."""
    monkeypatch.setenv("ATLAS_DATABASE_URL", f"sqlite:///{tmp_path / 'own.sqlite'}")


@pytest.fixture
def copy_of_sample(tmp_path, real_nuts):
    path = tmp_path / "survey.csv"
    shutil.copy(SAMPLE_FILE, path)
    return path


@pytest.fixture
def other_survey(tmp_path, real_nuts):
    """Not the sample: the sample with one more site (the 'fictional' badge follows the content)."""
    path = tmp_path / "other.csv"
    lines = SAMPLE_FILE.read_text(encoding="utf-8").splitlines()
    extra = lines[1].split(",", 1)[1]
    path.write_text("\n".join([*lines, f"X-OTHER-1,{extra}"]) + "\n", encoding="utf-8")
    return path


def test_other_data_without_secret_or_users_refuses_to_start(copy_of_sample, monkeypatch, capsys) -> None:
    monkeypatch.delenv("ATLAS_SECRET_KEY", raising=False)
    monkeypatch.delenv("ATLAS_USERS", raising=False)
    with pytest.raises(auth.ConfigError, match="ATLAS_SECRET_KEY"):
        atlas.create_app(copy_of_sample)
    monkeypatch.setattr(atlas, "prepare_nuts", lambda download=True: None)
    assert atlas.main(["--data", str(copy_of_sample)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "ATLAS_USERS" in err and "Traceback" not in err
    assert err.count("\n") == 1  # one line


def test_the_demo_is_served_on_loopback_only(capsys) -> None:
    assert atlas.main(["--host", "0.0.0.0"]) == 2
    assert "127.0.0.1 only" in capsys.readouterr().err


def test_other_data_with_accounts_signs_in_and_has_no_role_switcher(other_survey, tmp_path, monkeypatch):
    path = tmp_path / "users.json"
    users.save_users(path, {})
    monkeypatch.setenv("ATLAS_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("ATLAS_USERS", str(path))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(PASSWORD + "\n"))
    assert users.main(["--file", str(path), "add", "anna", "--role", "cluster", "--password-stdin"]) == 0
    server = atlas.create_app(other_survey).server
    client = server.test_client()
    assert client.get("/").status_code == 302
    assert client.post("/demo/role/official").status_code == 404
    page = client.get("/login").get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page and "demo" not in page.lower()
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    answer = client.post("/login", data={"username": "anna", "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    assert "Signed in as anna (cluster)" in layout.get_data(as_text=True)
    assert badge_style(layout.get_json()) == {"display": "none"}  # not the sample: the badge is hidden


def badge_style(node: object) -> object:
    """The style of the "Fictional sample data" badge in a Dash layout (JSON)."""
    if isinstance(node, dict):
        props = node.get("props", {})
        if isinstance(props, dict) and props.get("id") == "sample-badge":
            return props.get("style")
        children = [node.get("props", {}).get("children")] if "props" in node else list(node.values())
        for child in children:
            found = badge_style(child)
            if found is not None:
                return found
    if isinstance(node, list):
        for child in node:
            found = badge_style(child)
            if found is not None:
                return found
    return None


def test_the_file_becomes_a_round_of_the_store_and_is_reused(copy_of_sample, tmp_path, monkeypatch) -> None:
    from geodata import store

    url = f"sqlite:///{tmp_path / 'rounds.sqlite'}"
    monkeypatch.setenv("ATLAS_DATABASE_URL", url)
    atlas.create_app()  # the demo: the bundled sample becomes the round "sample_facilities"
    with store.connect(url) as opened:
        rounds = opened.rounds()
    assert [(r.name, r.status, r.sites, r.rejected) for r in rounds] == [
        ("sample_facilities", "published", 350, 0)
    ]
    atlas.create_app()  # the same file again: the same round, nothing imported twice
    with store.connect(url) as opened:
        assert [r.name for r in opened.rounds()] == ["sample_facilities"]
    # another file with the same content is the same round too (same checksum)
    path = tmp_path / "users.json"
    users.save_users(path, {})
    monkeypatch.setenv("ATLAS_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("ATLAS_USERS", str(path))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(PASSWORD + "\n"))
    assert users.main(["--file", str(path), "add", "anna", "--role", "cluster", "--password-stdin"]) == 0
    atlas.create_app(copy_of_sample)
    with store.connect(url) as opened:
        assert [r.name for r in opened.rounds()] == ["sample_facilities"]


def test_an_unreachable_store_stops_the_start_with_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("ATLAS_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.setattr(atlas, "prepare_nuts", lambda download=True: None)
    assert atlas.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open the survey store") and "ATLAS_DATABASE_URL" in err
    assert "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("value", "expected"), [(None, True), ("yes", True), ("no", False), ("OFF", False), ("0", False)]
)
def test_background_warming_is_on_unless_switched_off(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool
) -> None:
    from dashboard.data import warming

    if value is None:
        monkeypatch.delenv("ATLAS_WARM", raising=False)
    else:
        monkeypatch.setenv("ATLAS_WARM", value)
    assert warming() is expected
