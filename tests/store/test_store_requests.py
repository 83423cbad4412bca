"""Introduction requests: who asked under which role, how an official moves a request along,
and migration 0002 (the requester's role, who handled it, the renamed statuses) both ways.

Every test runs on SQLite and on PostgreSQL (tests/store/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from geodata import store
from geodata.store import Store, StoreError, database

#: What an official may move a request to, from each status (the issue's workflow, by hand).
MOVES: dict[str, set[str]] = {
    "open": {"accepted", "declined"},
    "accepted": {"done", "declined"},
    "declined": {"open"},
    "done": set(),
}
#: A path from 'open' to each status.
PATHS: dict[str, list[str]] = {
    "open": [],
    "accepted": ["accepted"],
    "declined": ["declined"],
    "done": ["accepted", "done"],
}


@pytest.fixture
def stored(atlas: Store, messy_file: Path) -> Store:
    atlas.import_file(messy_file, "april", "ana", publish=True)
    return atlas


def requests_by_id(atlas: Store) -> dict[int, dict[str, object]]:
    table = atlas.introduction_requests()
    return {int(row["id"]): {str(k): v for k, v in row.items()} for row in table.to_dict("records")}


# --- asking --------------------------------------------------------------------------------------


def test_a_request_keeps_the_requesters_role(stored: Store) -> None:
    before = dt.datetime.now(dt.UTC)
    by_cluster = stored.request_introduction("april", "M1", "vials_stoppers", "cy", "need vials")
    by_official = stored.request_introduction(
        "april", "M2", "fill_finish", "ana", "", requester_role="official"
    )
    by_public = stored.request_introduction("april", "M7", "services", "pat", requester_role="public")
    after = dt.datetime.now(dt.UTC)
    rows = requests_by_id(stored)
    assert set(rows) == {by_cluster, by_official, by_public}
    assert [(rows[i]["requester"], rows[i]["requester_role"]) for i in sorted(rows)] == [
        ("cy", "cluster"),
        ("ana", "official"),
        ("pat", "public"),
    ]
    for row in rows.values():
        assert row["status"] == "open" and row["handled_by"] is None and row["round"] == "april"
        created = row["created_at"]
        assert isinstance(created, dt.datetime) and created.tzinfo is not None
        assert before <= created <= after and row["updated_at"] == created
    assert rows[by_cluster]["message"] == "need vials" and rows[by_cluster]["need"] == "vials_stoppers"


def test_a_request_for_an_unknown_site_or_round_stores_nothing(stored: Store) -> None:
    with pytest.raises(StoreError, match="no site 'M4'"):  # M4 was rejected at import
        stored.request_introduction("april", "M4", "fill_finish", "cy", requester_role="cluster")
    with pytest.raises(store.UnknownRound, match="no round named 'may'"):
        stored.request_introduction("may", "M1", "fill_finish", "cy")
    assert stored.introduction_requests().empty


# --- moving --------------------------------------------------------------------------------------


def test_open_accepted_done(stored: Store) -> None:
    request = stored.request_introduction("april", "M1", "fill_finish", "cy")
    created = requests_by_id(stored)[request]["created_at"]
    assert isinstance(created, dt.datetime)
    time.sleep(0.01)
    assert stored.move_request(request, "accepted", user="ana") == "open"
    row = requests_by_id(stored)[request]
    assert (row["status"], row["handled_by"]) == ("accepted", "ana")
    accepted_at = row["updated_at"]
    assert isinstance(accepted_at, dt.datetime) and accepted_at.tzinfo is not None
    assert accepted_at > created and row["created_at"] == created
    time.sleep(0.01)
    assert stored.move_request(request, "done", user="bo") == "accepted"
    row = requests_by_id(stored)[request]
    assert (row["status"], row["handled_by"]) == ("done", "bo")
    assert isinstance(row["updated_at"], dt.datetime) and row["updated_at"] > accepted_at
    assert (row["requester"], row["requester_role"], row["created_at"]) == ("cy", "cluster", created)


def test_open_declined_and_back(stored: Store) -> None:
    request = stored.request_introduction("april", "M1", "fill_finish", "cy")
    assert stored.move_request(request, "declined", user="ana") == "open"
    assert requests_by_id(stored)[request]["status"] == "declined"
    assert stored.move_request(request, "open", user="bo") == "declined"
    row = requests_by_id(stored)[request]
    assert (row["status"], row["handled_by"]) == ("open", "bo")


@pytest.mark.parametrize("start", list(MOVES))
def test_every_move_follows_the_workflow(stored: Store, start: str) -> None:
    for target in ("open", "accepted", "declined", "done", "closed", "forwarded", "", "OPEN"):
        request = stored.request_introduction("april", "M1", "fill_finish", "cy")
        for step in PATHS[start]:
            stored.move_request(request, step, user="setup")
        before = requests_by_id(stored)[request]
        assert before["status"] == start
        if target in MOVES[start]:
            assert stored.move_request(request, target, user="ana") == start
            after = requests_by_id(stored)[request]
            assert (after["status"], after["handled_by"]) == (target, "ana")
        else:
            with pytest.raises(StoreError, match=f"request #{request} is {start}: it can move to"):
                stored.move_request(request, target, user="ana")
            assert requests_by_id(stored)[request] == before, "a refused move changes nothing"


def test_a_finished_request_says_so(stored: Store) -> None:
    request = stored.request_introduction("april", "M1", "fill_finish", "cy")
    stored.move_request(request, "accepted", user="ana")
    stored.move_request(request, "done", user="ana")
    for target in ("open", "accepted", "declined", "done"):
        with pytest.raises(StoreError, match=r"is done: it can move to nothing \(it is finished\)"):
            stored.move_request(request, target, user="bo")
    assert requests_by_id(stored)[request]["handled_by"] == "ana"


def test_a_refused_move_names_the_allowed_ones(stored: Store) -> None:
    request = stored.request_introduction("april", "M1", "fill_finish", "cy")
    with pytest.raises(StoreError) as raised:
        stored.move_request(request, "done", user="ana")
    assert str(raised.value) == f"request #{request} is open: it can move to accepted, declined"


def test_an_unknown_request_cannot_move(stored: Store) -> None:
    request = stored.request_introduction("april", "M1", "fill_finish", "cy")
    for missing in (request + 1, 0, -1, 10**9):
        with pytest.raises(StoreError, match=f"no introduction request #{missing}"):
            stored.move_request(missing, "accepted", user="ana")
    assert requests_by_id(stored)[request]["status"] == "open"


# --- migration 0002 ------------------------------------------------------------------------------

ROUNDS = sa.table(
    "rounds",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("status", sa.String),
    sa.column("checksum", sa.String),
    sa.column("columns", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
REQUESTS_0001 = sa.table(
    "introduction_requests",
    sa.column("id", sa.Integer),
    sa.column("round_id", sa.Integer),
    sa.column("facility_id", sa.Text),
    sa.column("need", sa.Text),
    sa.column("requester", sa.Text),
    sa.column("message", sa.Text),
    sa.column("status", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
#: Requests as revision 0001 stored them: id -> status.
OLD_STATUSES = {1: "open", 2: "forwarded", 3: "declined", 4: "closed", 5: "forwarded"}
RENAMED = {1: "open", 2: "accepted", 3: "declined", 4: "done", 5: "accepted"}


def _columns(engine: sa.Engine) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns("introduction_requests")}


def _statuses(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, status FROM introduction_requests ORDER BY id")).all()
    return {int(i): str(s) for i, s in rows}


def test_migration_0002_renames_statuses_and_adds_the_role_both_ways(store_url: str) -> None:
    engine = database.create_engine(store_url)
    try:
        database.upgrade(engine, "0001")
        assert database.current_revision(engine) == "0001"
        assert not {"requester_role", "handled_by"} & _columns(engine)
        when = dt.datetime(2021, 3, 1, 12, 0, tzinfo=dt.UTC)
        with engine.begin() as connection:
            connection.execute(
                ROUNDS.insert().values(
                    id=1, name="old", status="published", checksum="0" * 64, columns=[], created_at=when
                )
            )
            connection.execute(
                REQUESTS_0001.insert(),
                [
                    {
                        "id": i,
                        "round_id": 1,
                        "facility_id": f"F{i}",
                        "need": "fill_finish",
                        "requester": f"user{i}",
                        "message": "",
                        "status": status,
                        "created_at": when,
                        "updated_at": when,
                    }
                    for i, status in OLD_STATUSES.items()
                ],
            )
        database.upgrade(engine)
        assert database.current_revision(engine) == "0002" == database.head_revision()
        assert {"requester_role", "handled_by"} <= _columns(engine)
        assert _statuses(engine) == RENAMED
        with engine.connect() as connection:
            extra = connection.execute(
                sa.text("SELECT id, requester_role, handled_by FROM introduction_requests ORDER BY id")
            ).all()
        assert [tuple(row) for row in extra] == [(i, "cluster", None) for i in OLD_STATUSES]

        # the store reads and moves the migrated requests
        with store.connect(store_url) as migrated:
            table = migrated.introduction_requests()
            assert list(table["status"]) == [RENAMED[i] for i in sorted(RENAMED)]
            assert set(table["requester_role"]) == {"cluster"}
            assert migrated.move_request(2, "done", user="ana") == "accepted"
            assert migrated.move_request(1, "declined", user="ana") == "open"
            with pytest.raises(StoreError, match="is done"):
                migrated.move_request(4, "open", user="ana")

        database.downgrade(engine, "0001")
        assert database.current_revision(engine) == "0001"
        assert not {"requester_role", "handled_by"} & _columns(engine)
        assert _statuses(engine) == {1: "declined", 2: "closed", 3: "declined", 4: "closed", 5: "forwarded"}

        # and up again: the same renaming
        database.upgrade(engine)
        assert _statuses(engine) == {1: "declined", 2: "done", 3: "declined", 4: "done", 5: "accepted"}
    finally:
        engine.dispose()


def test_a_new_request_after_the_migration_defaults_to_cluster(
    store_url: str, messy_file: Path, real_nuts: Path
) -> None:
    """Rows written without the role (as revision 0001's code did) get 'cluster' from the server."""
    with store.connect(store_url) as atlas:
        atlas.import_file(messy_file, "april", "ana")
    engine = database.create_engine(store_url)
    try:
        when = dt.datetime(2021, 4, 1, tzinfo=dt.UTC)
        with engine.begin() as connection:
            round_id = connection.execute(sa.text("SELECT id FROM rounds WHERE name = 'april'")).scalar_one()
            connection.execute(
                REQUESTS_0001.insert().values(
                    round_id=round_id,
                    facility_id="M1",
                    need="fill_finish",
                    requester="old-client",
                    message="",
                    status="open",
                    created_at=when,
                    updated_at=when,
                )
            )
        with engine.connect() as connection:
            role = connection.execute(
                sa.text("SELECT requester_role, handled_by FROM introduction_requests")
            ).one()
        assert tuple(role) == ("cluster", None)
    finally:
        engine.dispose()
