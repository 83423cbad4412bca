"""Importing a facility file as a survey round: validate, place, then write in ONE transaction.

The slow part (reading, validating, placing in both NUTS versions) runs before the transaction
opens; the transaction only writes, under the store's write lock, so a second import waits for
the first instead of interleaving with it, and readers see the old state until the commit.
Killing the process at any point leaves the previous state: an uncommitted transaction is
rolled back by the database (SQLite's journal, PostgreSQL's closed session).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from geodata import placement, records
from geodata.readers import InputError
from geodata.store import convert, database
from geodata.store.models import (
    DISCARDED,
    DRAFT,
    PUBLISHED,
    Facility,
    Import,
    RejectedRow,
    Round,
    RowProblem,
    table_of,
)
from geodata.store.models import utc_now as _now
from geodata.store.reports import StoreError

#: Placement settings of stored rounds: boundary scale and snap distance (as the dashboard's).
SCALE = "20M"
TOLERANCE_KM = 10.0
#: Facility rows per INSERT batch (progress is reported per batch).
BATCH_ROWS = 1000
MAX_NAME = 200

Progress = Callable[[str], None]

#: Placement shares cached GeoDataFrames and pyproj objects, which are not thread-safe (two
#: threads placing on cold caches crashed the interpreter): imports in one process read and
#: place one file at a time; their transactions still run concurrently with each other.
_PREPARING = threading.Lock()


def _quiet(_message: str) -> None:
    pass


def file_checksum(path: Path) -> str:
    """SHA-256 of the file's bytes, hex. Raises InputError when it cannot be read."""
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_name(value: str, what: str = "round name") -> str:
    """A round or user name, trimmed; raises StoreError when empty, too long or with control characters."""
    name = value.strip()
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise StoreError(f"{what} {value!r}: give 1 to {MAX_NAME} characters, without line breaks or tabs")
    return name


def reusable(session: Session, checksum: str) -> Round | None:
    """The round made from a file with this checksum, unless it was discarded."""
    query = sa.select(Round).where(Round.checksum == checksum, Round.status != DISCARDED).order_by(Round.id)
    return session.scalars(query).first()


def import_file(
    engine: sa.Engine,
    path: str | Path,
    round_name: str,
    user: str,
    *,
    publish: bool = False,
    progress: Progress | None = None,
) -> tuple[str, bool]:
    """Import ``path`` as round ``round_name``; returns (name of the round, reused?).

    A file whose checksum matches a round that was not discarded reuses that round (whatever
    its name). Raises InputError for an unreadable file, StoreError when the name is taken,
    nuts.NutsDataError when the NUTS boundaries are missing.
    """
    say = progress or _quiet
    path = Path(path)
    name, user = check_name(round_name), check_name(user, "user name")
    checksum = file_checksum(path)
    with database.reading(engine) as session:
        found = reusable(session, checksum)
        if found is None:
            _check_free(session, name)
    if found is not None:  # nothing to read: record the reuse (and publish) below
        return _reuse(engine, checksum, path.name, user, publish, say), True

    with _PREPARING:
        table = records.load_facilities(path)
        say(f"{path.name}: {len(table.facilities)} valid rows, {len(table.rejected)} rejected")
        rows = _placed_rows(table)
    say(f"placed {len(rows)} sites in NUTS {' and '.join(map(str, convert.PLACEMENT_YEARS))}")
    with database.writing(engine) as session:
        landed = reusable(session, checksum) is not None  # the same file, imported meanwhile
        if not landed:
            _check_free(session, name)
            _write(session, table, rows, name, user, checksum, publish, say)
            say("committing")
    if landed:
        return _reuse(engine, checksum, path.name, user, publish, say), True
    say(f"round {name!r} stored")
    return name, False


def _placed_rows(table: records.FacilityTable) -> list[dict[str, Any]]:
    if table.facilities.empty:
        return []
    placed = {
        year: placement.place(table.facilities, year, SCALE, TOLERANCE_KM) for year in convert.PLACEMENT_YEARS
    }
    return convert.facility_rows(table.facilities, placed)


def _check_free(session: Session, name: str) -> None:
    taken = session.scalars(sa.select(Round).where(Round.name == name)).first()
    if taken is not None:
        raise StoreError(
            f"a round named {name!r} exists already ({taken.status}, a different file); "
            "choose another name with --round"
        )


def _write(
    session: Session,
    table: records.FacilityTable,
    rows: list[dict[str, Any]],
    name: str,
    user: str,
    checksum: str,
    publish: bool,
    say: Progress,
) -> None:
    now = _now()
    round_ = Round(
        name=name,
        status=PUBLISHED if publish else DRAFT,
        checksum=checksum,
        columns=list(table.raw.columns),
        created_at=now,
        published_at=now if publish else None,
        published_by=user if publish else None,
    )
    session.add(round_)
    session.flush()  # gives round_.id
    notes = sum(p.severity != "error" for p in table.problems)
    session.add(
        Import(
            round_id=round_.id,
            imported_at=now,
            imported_by=user,
            source_name=table.source.name,
            checksum=checksum,
            valid_rows=len(table.facilities),
            rejected_rows=len(table.rejected),
            notes=notes,
            reused=False,
        )
    )
    # Core inserts (no ORM bookkeeping per row): three times faster for 20,000 sites
    for start in range(0, len(rows), BATCH_ROWS):
        batch = rows[start : start + BATCH_ROWS]
        session.execute(sa.insert(table_of(Facility)), [{**row, "round_id": round_.id} for row in batch])
        say(f"stored {start + len(batch)}/{len(rows)} sites of round {name!r}")
    rejected = convert.rejected_rows(table.rejected, table.raw.columns)
    if rejected:
        session.execute(
            sa.insert(table_of(RejectedRow)), [{**row, "round_id": round_.id} for row in rejected]
        )
    problems = [
        {
            "round_id": round_.id,
            "source_row": p.row,
            "field": p.field,
            "value": p.value,
            "reason": p.reason,
            "severity": p.severity,
        }
        for p in table.problems
    ]
    if problems:
        session.execute(sa.insert(table_of(RowProblem)), problems)


def _reuse(
    engine: sa.Engine, checksum: str, source_name: str, user: str, publish: bool, say: Progress
) -> str:
    """Log an import that found its file stored already; publish that round if asked."""
    with database.writing(engine) as session:
        found = reusable(session, checksum)
        if found is None:  # discarded meanwhile: the caller may import again
            raise StoreError(f"{source_name}: its round was discarded while importing; import it again")
        first = session.scalars(
            sa.select(Import).where(Import.round_id == found.id, Import.reused.is_(False))
        ).one()
        now = _now()
        session.add(
            Import(
                round_id=found.id,
                imported_at=now,
                imported_by=user,
                source_name=source_name,
                checksum=checksum,
                valid_rows=first.valid_rows,
                rejected_rows=first.rejected_rows,
                notes=first.notes,
                reused=True,
            )
        )
        if publish and found.status == DRAFT:
            found.status, found.published_at, found.published_by = PUBLISHED, now, user
        say(f"{source_name}: the same file as round {found.name!r}; reusing it")
        return found.name
