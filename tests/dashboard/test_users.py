"""The users file and `python -m dashboard.users`: hashes only, atomic 0600 writes, clear errors."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import users
from dashboard.users import User, UsersError, main

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


@pytest.fixture
def users_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "users.json"
    monkeypatch.setenv("ATLAS_USERS", str(path))
    return path


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


def add(name: str, role: str, monkeypatch: pytest.MonkeyPatch, password: str = PASSWORD) -> int:
    return run(["add", name, "--role", role, "--password-stdin"], monkeypatch, password + "\n")


def test_add_writes_only_an_argon2_hash_with_mode_0600(users_file: Path, monkeypatch, capsys) -> None:
    assert add("anna", "official", monkeypatch) == 0
    assert "added anna (official)" in capsys.readouterr().out
    text = users_file.read_text(encoding="utf-8")
    assert PASSWORD not in text
    [entry] = json.loads(text)["users"]
    assert entry["name"] == "anna" and entry["role"] == "official" and entry["token_hashes"] == []
    assert entry["password_hash"].startswith("$argon2id$")
    assert users.verify_password(entry["password_hash"], PASSWORD)
    assert not users.verify_password(entry["password_hash"], PASSWORD + "!")
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
    assert [p.name for p in users_file.parent.iterdir()] == ["users.json"]  # no temporary files left


def test_same_password_gives_different_salted_hashes() -> None:
    assert users.hash_password(PASSWORD) != users.hash_password(PASSWORD)


def test_add_prompts_twice_with_getpass(users_file: Path, monkeypatch, capsys) -> None:
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr(users.getpass, "getpass", lambda prompt: next(answers))
    assert main(["add", "ben", "--role", "cluster"]) == 0
    assert users.load_users(users_file)["ben"].role == "cluster"

    answers = iter([PASSWORD, "something else entirely"])
    assert main(["add", "carla", "--role", "cluster"]) == 2
    assert capsys.readouterr().err.strip() == "error: the two passwords differ; nothing changed"
    assert "carla" not in users.load_users(users_file)


def test_list_set_role_and_remove(users_file: Path, monkeypatch, capsys) -> None:
    add("anna", "official", monkeypatch)
    add("Ben", "cluster", monkeypatch)
    capsys.readouterr()
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["anna\tofficial\t0 API token(s)", "Ben\tcluster\t0 API token(s)"]
    assert "argon2" not in out

    assert main(["set-role", "ben", "official"]) == 0  # names are case-insensitive
    assert users.load_users(users_file)["ben"].role == "official"
    assert main(["remove", "anna"]) == 0
    assert list(users.load_users(users_file)) == ["ben"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["set-role", "anna", "admin"], "error: unknown role 'admin'; allowed: official, cluster"),
        (["set-role", "zoe", "cluster"], "error: unknown user 'zoe' (users: anna)"),
        (["remove", "zoe"], "error: unknown user 'zoe' (users: anna)"),
        (["token", "zoe"], "error: unknown user 'zoe' (users: anna)"),
    ],
)
def test_one_line_errors(users_file: Path, monkeypatch, capsys, argv: list[str], message: str) -> None:
    add("anna", "official", monkeypatch)
    before = users_file.read_bytes()
    capsys.readouterr()
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [message]
    assert users_file.read_bytes() == before


def test_add_refuses_bad_role_duplicates_and_short_passwords(users_file: Path, monkeypatch, capsys) -> None:
    assert add("anna", "public", monkeypatch) == 2
    assert "allowed: official, cluster" in capsys.readouterr().err
    assert not users_file.exists()
    assert add("anna", "official", monkeypatch, password="short") == 2
    assert "at least 12 characters" in capsys.readouterr().err
    assert add("anna", "official", monkeypatch) == 0
    assert add("ANNA", "cluster", monkeypatch) == 2
    assert "already exists" in capsys.readouterr().err
    assert add("../etc", "cluster", monkeypatch) == 2
    assert "is not allowed" in capsys.readouterr().err


def test_missing_setting_says_what_to_set(monkeypatch, capsys) -> None:
    monkeypatch.delenv("ATLAS_USERS", raising=False)
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ATLAS_USERS is not set: set it to the path of the users file")
    assert len(err.splitlines()) == 1


def test_list_of_a_missing_file(users_file: Path, capsys) -> None:
    assert main(["list"]) == 2
    assert "does not exist: create it with python -m dashboard.users add" in capsys.readouterr().err


def test_token_is_printed_once_and_stored_as_a_hash(users_file: Path, monkeypatch, capsys) -> None:
    add("anna", "official", monkeypatch)
    capsys.readouterr()
    assert main(["token", "anna"]) == 0
    captured = capsys.readouterr()
    token = captured.out.strip()
    assert token.startswith("atlas_") and len(token) > 40
    assert "not shown again" in captured.err
    text = users_file.read_text(encoding="utf-8")
    assert token not in text
    assert users.token_hash(token) in text
    loaded = users.load_users(users_file)
    assert users.find_by_token(loaded, token) == loaded["anna"]
    assert users.find_by_token(loaded, token + "x") is None

    assert main(["token", "anna"]) == 0
    second = capsys.readouterr().out.strip()
    assert second != token
    assert len(users.load_users(users_file)["anna"].token_hashes) == 2

    assert main(["token", "anna", "--revoke"]) == 0
    assert "revoked 2 API token(s) of anna" in capsys.readouterr().out
    loaded = users.load_users(users_file)
    assert users.find_by_token(loaded, token) is None and users.find_by_token(loaded, second) is None


def test_password_change(users_file: Path, monkeypatch) -> None:
    add("anna", "official", monkeypatch)
    old = users.load_users(users_file)["anna"]
    new_password = "a different long password"
    assert run(["password", "anna", "--password-stdin"], monkeypatch, new_password + "\n") == 0
    new = users.load_users(users_file)["anna"]
    assert users.verify_password(new.password_hash, new_password)
    assert new.fingerprint != old.fingerprint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "is not valid JSON (line 1"),
        ("[]", 'expected {"version": 1, "users": [...]}'),
        ('{"users": [{"name": "a", "role": "admin", "password_hash": "$argon2id$x"}]}', "role 'admin'"),
        ('{"users": [{"name": "a", "role": "cluster", "password_hash": "secret"}]}', "not an argon2 hash"),
        (
            '{"users": [{"name": "a", "role": "cluster", "password_hash": "$argon2id$x",'
            ' "token_hashes": ["x"]}]}',
            "token_hashes must be",
        ),
        (
            '{"users": [{"name": "a", "role": "cluster", "password_hash": "$argon2id$x"},'
            ' {"name": "A", "role": "official", "password_hash": "$argon2id$y"}]}',
            "user 'A' appears twice",
        ),
    ],
)
def test_invalid_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(UsersError, match="users file") as info:
        users.parse_users(text, "users file x.json")
    assert message in str(info.value)


def test_users_file_reloads_and_fails_closed(tmp_path: Path, caplog) -> None:
    path = tmp_path / "users.json"
    anna = User("anna", "official", users.hash_password(PASSWORD))
    users.save_users(path, [anna])
    source = users.UsersFile(path)
    assert list(source.users()) == ["anna"]
    users.save_users(path, [anna, User("ben", "cluster", anna.password_hash)])
    assert sorted(source.users()) == ["anna", "ben"]
    path.write_text("{broken", encoding="utf-8")
    assert source.users() == {}
    assert "nobody can sign in" in caplog.text
    path.unlink()
    assert source.users() == {}


def test_command_line_through_python_m(tmp_path: Path) -> None:
    env = {**os.environ, "ATLAS_USERS": str(tmp_path / "users.json")}

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dashboard.users", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=60,
        )

    added = cli("add", "anna", "--role", "official", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    listed = cli("list")
    assert (listed.returncode, listed.stdout) == (0, "anna\tofficial\t0 API token(s)\n")
    failed = cli("remove", "zoe")
    assert failed.returncode == 2
    assert failed.stderr == "error: unknown user 'zoe' (users: anna)\n"
    assert "Traceback" not in failed.stderr
