"""The users file: built-in accounts with argon2 password hashes and hashed API tokens.

The file is JSON at the path in ``ATLAS_USERS`` (never in the repository), written atomically
with mode 0600::

    {"version": 1, "users": [{"name": "anna", "role": "official",
                              "password_hash": "$argon2id$...", "token_hashes": ["sha256:..."]}]}

Passwords are hashed with argon2id (salted, ``argon2.PasswordHasher``); API tokens are 32 random
bytes, so a plain SHA-256 of the token is enough to store them. Neither is ever stored in clear.

Managed from the command line (``python -m dashboard.users --help``)::

    python -m dashboard.users add NAME --role official|cluster [--password-stdin]
    python -m dashboard.users list | remove NAME | set-role NAME ROLE | password NAME
    python -m dashboard.users token NAME [--revoke]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import getpass
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: Roles an account can have; ``public`` is the anonymous role and never an account.
ROLES = ("official", "cluster")
USERS_ENV = "ATLAS_USERS"
FILE_VERSION = 1
MIN_PASSWORD_LENGTH = 12
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TOKEN_PREFIX = "atlas_"
_TOKEN_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
_HASHER = PasswordHasher()
log = logging.getLogger(__name__)


class UsersError(Exception):
    """A users file or command that cannot be used; the message says what to do."""


@dataclass(frozen=True)
class User:
    """One account: ``name`` (unique, compared case-insensitively), ``role`` (one of ROLES)."""

    name: str
    role: str
    password_hash: str
    token_hashes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The name as it is looked up (case-insensitive)."""
        return self.name.casefold()

    @property
    def fingerprint(self) -> str:
        """Changes with the password: sessions made before a password change stop working."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]


# --- hashing -----------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """A salted argon2id hash of ``password`` (PHC string ``$argon2id$...``)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; False for a mismatch or a broken hash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str]:
    """A fresh API token and the hash to store: ``(token, "sha256:<hex>")``."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """The stored form of an API token."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def find_by_token(users: dict[str, User], token: str) -> User | None:
    """The user owning ``token``, or None (every stored hash is compared in constant time)."""
    wanted = token_hash(token)
    found = None
    for user in users.values():
        for stored in user.token_hashes:
            if hmac.compare_digest(stored, wanted):
                found = user
    return found


# --- the file ----------------------------------------------------------------------------------


def users_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The users file: ``explicit`` if given, else ``$ATLAS_USERS``; UsersError when neither is set."""
    value = explicit if explicit is not None else os.environ.get(USERS_ENV, "").strip()
    if not value:
        raise UsersError(
            f"{USERS_ENV} is not set: set it to the path of the users file "
            f"(e.g. export {USERS_ENV}=/etc/vaccine-atlas/users.json; it is created by the first 'add')"
        )
    return Path(value).expanduser()


def _user_from_json(entry: object, where: str) -> User:
    if not isinstance(entry, dict):
        raise UsersError(f"{where}: expected an object with name, role and password_hash")
    name, role, password_hash = entry.get("name"), entry.get("role"), entry.get("password_hash")
    tokens = entry.get("token_hashes", [])
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise UsersError(f"{where}: name {name!r} is not a valid user name")
    if role not in ROLES:
        raise UsersError(f"{where} ({name}): role {role!r} is not one of {', '.join(ROLES)}")
    if not isinstance(password_hash, str) or not password_hash.startswith("$argon2"):
        raise UsersError(f"{where} ({name}): password_hash is not an argon2 hash")
    if not isinstance(tokens, list) or not all(isinstance(t, str) and _TOKEN_HASH.match(t) for t in tokens):
        raise UsersError(f"{where} ({name}): token_hashes must be a list of 'sha256:<64 hex digits>'")
    return User(name=name, role=str(role), password_hash=password_hash, token_hashes=tuple(tokens))


def parse_users(text: str, source: str = "users file") -> dict[str, User]:
    """The users in a users file's text, by lower-case name; UsersError naming what is wrong."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsersError(f"{source} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(document, dict) or not isinstance(document.get("users"), list):
        raise UsersError(f'{source}: expected {{"version": {FILE_VERSION}, "users": [...]}}')
    users: dict[str, User] = {}
    for index, entry in enumerate(document["users"]):
        user = _user_from_json(entry, f"{source}, user {index + 1}")
        if user.key in users:
            raise UsersError(f"{source}: user {user.name!r} appears twice")
        users[user.key] = user
    return users


def load_users(path: Path, *, missing_ok: bool = False) -> dict[str, User]:
    """Read and validate the users file; an absent file is empty only when ``missing_ok``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise UsersError(
            f"users file {path} does not exist: create it with python -m dashboard.users add"
        ) from None
    except OSError as exc:
        raise UsersError(f"cannot read users file {path}: {exc.strerror}") from None
    return parse_users(text, f"users file {path}")


def save_users(path: Path, users: Iterable[User]) -> None:
    """Write the users file atomically (temporary file in the same folder, then rename), mode 0600."""
    document = {
        "version": FILE_VERSION,
        "users": [
            {
                "name": u.name,
                "role": u.role,
                "password_hash": u.password_hash,
                "token_hashes": list(u.token_hashes),
            }
            for u in sorted(users, key=lambda u: u.key)
        ],
    }
    folder = path.parent
    if not folder.is_dir():
        raise UsersError(f"folder {folder} of the users file does not exist: create it first")
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


class UsersFile:
    """The users file as a running server sees it: re-read when it changes on disk; while it is
    missing or invalid nobody signs in (fail closed, never on stale accounts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._users: dict[str, User] = {}
        self._lock = threading.Lock()

    def users(self) -> dict[str, User]:
        """The current accounts by lower-case name."""
        try:
            info = self.path.stat()
            stamp: tuple[int, int, int] | None = (info.st_mtime_ns, info.st_size, info.st_ino)
        except OSError:
            stamp = None
        with self._lock:
            if stamp is None or stamp != self._stamp:
                try:
                    self._users = load_users(self.path)
                except UsersError as exc:
                    log.error("nobody can sign in: %s", exc)
                    self._users = {}
                self._stamp = stamp
            return self._users


# --- the command line --------------------------------------------------------------------------


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UsersError(f"unknown role {role!r}; allowed: {', '.join(ROLES)}")
    return role


def _get(users: dict[str, User], name: str) -> User:
    user = users.get(name.casefold())
    if user is None:
        known = ", ".join(sorted(u.name for u in users.values())) or "none yet"
        raise UsersError(f"unknown user {name!r} (users: {known})")
    return user


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise UsersError("the two passwords differ; nothing changed")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsersError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.users",
        description=f"Manage the Vaccine Capacity Atlas users file (path from ${USERS_ENV} or --file).",
    )
    parser.add_argument("--file", help=f"users file (default: ${USERS_ENV})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = commands.add_parser("add", help="add a user (password prompted twice)")
    add.add_argument("name")
    add.add_argument("--role", required=True, help=" or ".join(ROLES))
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    commands.add_parser("list", help="list users, roles and token counts (never hashes)")
    remove = commands.add_parser("remove", help="remove a user (with their tokens)")
    remove.add_argument("name")
    set_role = commands.add_parser("set-role", help="change a user's role")
    set_role.add_argument("name")
    set_role.add_argument("role", help=" or ".join(ROLES))
    password = commands.add_parser("password", help="change a user's password (ends their sessions)")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    token = commands.add_parser("token", help="create an API token (printed once) or revoke all")
    token.add_argument("name")
    token.add_argument("--revoke", action="store_true", help="revoke all of the user's API tokens")
    return parser


def _run(args: argparse.Namespace) -> str:
    """Carry out one command; returns what to print."""
    path = users_path(args.file)
    users = load_users(path, missing_ok=args.command == "add")
    if args.command == "list":
        if not users:
            return f"no users in {path}"
        return "\n".join(
            f"{u.name}\t{u.role}\t{len(u.token_hashes)} API token(s)"
            for u in sorted(users.values(), key=lambda u: u.key)
        )
    if args.command == "add":
        if not NAME_PATTERN.match(args.name):
            raise UsersError(
                f"user name {args.name!r} is not allowed: use 1-64 letters, digits, '.', '_', '@' or '-'"
            )
        role = _check_role(args.role)
        if args.name.casefold() in users:
            raise UsersError(f"user {args.name!r} already exists; use set-role, password or remove")
        user = User(args.name, role, hash_password(_read_password(args.password_stdin)))
        message = f"added {user.name} ({user.role}) to {path}"
    elif args.command == "remove":
        user = _get(users, args.name)
        del users[user.key]
        save_users(path, users.values())
        return f"removed {user.name} from {path}"
    elif args.command == "set-role":
        role = _check_role(args.role)
        user = dataclasses.replace(_get(users, args.name), role=role)
        message = f"{user.name} is now {role}"
    elif args.command == "password":
        user = _get(users, args.name)
        user = dataclasses.replace(user, password_hash=hash_password(_read_password(args.password_stdin)))
        message = f"changed the password of {user.name}; their open sessions end"
    elif args.revoke:
        user = _get(users, args.name)
        message = f"revoked {len(user.token_hashes)} API token(s) of {user.name}"
        user = dataclasses.replace(user, token_hashes=())
    else:
        token, stored = new_token()
        user = _get(users, args.name)
        user = dataclasses.replace(user, token_hashes=(*user.token_hashes, stored))
        message = token  # the only time it is shown
        print(f"API token for {user.name} (store it now: it is not shown again):", file=sys.stderr)
    users[user.key] = user
    save_users(path, users.values())
    return message


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 with a one-line error on failure)."""
    args = _parser().parse_args(argv)
    try:
        print(_run(args))
    except UsersError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        print("error: no password given; nothing changed", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
