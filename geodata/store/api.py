"""``Store``: survey rounds and everything about them, behind one small interface.

Each method is one unit of work (one transaction). A Store holds one engine: create it once per
process with ``geodata.store.connect()`` and share it; it is safe to use from several threads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from geodata import placement, records
from geodata.readers import SOURCE_ROW
from geodata.store import convert, database, importing
from geodata.store.models import (
    DISCARDED,
    DRAFT,
    PUBLISHED,
    REQUEST_MOVES,
    REQUEST_STATUSES,
    AuditEntry,
    Facility,
    Import,
    IntroductionRequest,
    RejectedRow,
    Round,
    RowProblem,
    table_of,
    utc_now,
)
from geodata.store.reports import (
    OTHER_COUNTRY_LIKE,
    ImportReport,
    PlacementProblem,
    RoundInfo,
    StoreError,
    UnknownRound,
    placement_problems,
)


class Store:
    """The survey store on one database (SQLite file or PostgreSQL with PostGIS)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- rounds -------------------------------------------------------------------------------

    def import_file(
        self,
        path: str | Path,
        round_name: str,
        user: str,
        *,
        publish: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> ImportReport:
        """Validate, place (NUTS 2021 and 2024) and store a facility file as one round.

        Everything is written in one transaction. A file whose checksum matches a round that
        was not discarded reuses that round (``report.reused``). ``publish`` publishes the round
        at once; otherwise it waits as a draft for ``publish`` or ``discard``. ``progress``
        receives short status lines. Raises readers.InputError for an unreadable file,
        StoreError when the name is taken by another round.
        """
        name, reused = importing.import_file(
            self.engine, path, round_name, user, publish=publish, progress=progress
        )
        return self.report(name, reused=reused)

    def publish(self, round_name: str, *, user: str | None = None) -> RoundInfo:
        """Publish a draft round (publishing a published round changes nothing).

        Raises StoreError for a discarded round, UnknownRound when there is none of that name.
        """
        with database.writing(self.engine) as session:
            found = _round(session, round_name)
            if found.status == DISCARDED:
                raise StoreError(
                    f"round {found.name!r} was discarded; import its file again under a new name"
                )
            if found.status == DRAFT:
                found.status, found.published_at, found.published_by = PUBLISHED, utc_now(), user
        return self.round_info(round_name)

    def discard(self, round_name: str, *, user: str | None = None) -> RoundInfo:
        """Withdraw a round (draft or published); its rows stay stored, but no reader is shown
        it and its file may be imported again as a new round."""
        with database.writing(self.engine) as session:
            found = _round(session, round_name)
            if found.status != DISCARDED:
                found.status, found.discarded_at, found.discarded_by = DISCARDED, utc_now(), user
        return self.round_info(round_name)

    def rounds(self) -> list[RoundInfo]:
        """Every round, oldest first."""
        with database.reading(self.engine) as session:
            return [_info(r, i) for r, i in session.execute(_rounds_query().order_by(Round.id))]

    def round_info(self, round_name: str) -> RoundInfo:
        """One round; raises UnknownRound."""
        with database.reading(self.engine) as session:
            row = session.execute(_rounds_query().where(Round.name == round_name)).first()
        if row is None:
            raise UnknownRound(f"no round named {round_name!r}; `python -m geodata rounds` lists them")
        return _info(row[0], row[1])

    def latest_published(self) -> RoundInfo | None:
        """The most recently published round that is still published, or None."""
        query = _rounds_query().where(Round.status == PUBLISHED)
        query = query.order_by(Round.published_at.desc(), Round.id.desc()).limit(1)
        with database.reading(self.engine) as session:
            row = session.execute(query).first()
        return None if row is None else _info(row[0], row[1])

    # -- a round's data ----------------------------------------------------------------------

    def facilities(self, round_name: str) -> pd.DataFrame:
        """The round's valid sites, identical in shape and dtypes to
        ``records.load_facilities(file).facilities`` of the imported file."""
        # Core, not ORM rows, and the list columns as their JSON text, decoded once per distinct
        # text (a round repeats few distinct lists): a third of the time for 100,000 sites
        table = table_of(Facility)
        columns = [
            sa.cast(table.c[f], sa.Text).label(f) if f in convert.LIST_FIELDS else table.c[f]
            for f in (*records.FIELDS, SOURCE_ROW)
        ]
        with database.reading(self.engine) as session:
            found = _round(session, round_name)
            query = sa.select(*columns).where(table.c.round_id == found.id).order_by(table.c.source_row)
            rows = session.execute(query).mappings().all()
        return convert.facility_frame(rows, lists_as_json=True)

    def placement(self, round_name: str, year: int) -> pd.DataFrame:
        """Where each site of the round lies in NUTS ``year`` (2021 or 2024): facility_id,
        source_row, nuts0-3, nuts_match, nuts_note, in the order of ``facilities``."""
        if year not in convert.PLACEMENT_YEARS:
            raise ValueError(f"year must be one of {convert.PLACEMENT_YEARS}; got {year!r}")
        names = [convert.placement_column(f, year) for f in convert.PLACEMENT_FIELDS]
        columns = [Facility.facility_id, Facility.source_row, *(getattr(Facility, n) for n in names)]
        with database.reading(self.engine) as session:
            found = _round(session, round_name)
            query = sa.select(*columns).where(Facility.round_id == found.id).order_by(Facility.source_row)
            rows = session.execute(query).mappings().all()
        return convert.placement_frame(rows, year)

    def rejected(self, round_name: str) -> pd.DataFrame:
        """The round's rejected rows as written, with source_row and rejection_reasons, identical
        to ``records.load_facilities(file).rejected``."""
        with database.reading(self.engine) as session:
            found = _round(session, round_name)
            query = (
                sa.select(RejectedRow.source_row, RejectedRow.cells, RejectedRow.reasons)
                .where(RejectedRow.round_id == found.id)
                .order_by(RejectedRow.source_row)
            )
            rows = session.execute(query).mappings().all()
            columns = list(found.columns)
        return convert.rejected_frame(rows, columns)

    def problems(self, round_name: str) -> list[records.Problem]:
        """Every finding of the round's validation (errors and notes), by row and field."""
        with database.reading(self.engine) as session:
            found = _round(session, round_name)
            source = _source_name(session, found)
            stored = session.scalars(sa.select(RowProblem).where(RowProblem.round_id == found.id)).all()
            found_problems = [
                records.Problem(source, p.source_row, p.field, p.value, p.reason, p.severity) for p in stored
            ]
        return sorted(found_problems, key=lambda p: (p.row, p.field))

    def placement_problems(self, round_name: str) -> list[PlacementProblem]:
        """Sites that a NUTS version places badly: unmatched, nearest, swapped, other country."""
        found_problems: list[PlacementProblem] = []
        with database.reading(self.engine) as session:
            found = _round(session, round_name)
            for year in convert.PLACEMENT_YEARS:
                match = getattr(Facility, convert.placement_column("nuts_match", year))
                note = getattr(Facility, convert.placement_column("nuts_note", year))
                query = sa.select(Facility.source_row, Facility.facility_id, match, note).where(
                    Facility.round_id == found.id,
                    sa.or_(match != placement.WITHIN, note.like(OTHER_COUNTRY_LIKE)),
                )
                rows = [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in session.execute(query)]
                found_problems += placement_problems(year, rows)
        return found_problems

    def report(self, round_name: str, *, reused: bool = False) -> ImportReport:
        """The import report of a stored round (as ``import_file`` returned it)."""
        return ImportReport(
            round=self.round_info(round_name),
            reused=reused,
            problems=self.problems(round_name),
            rejected_rows=self.rejected(round_name),
            placement_problems=self.placement_problems(round_name),
        )

    def imports(self) -> pd.DataFrame:
        """Every import run (also those that reused a round), oldest first."""
        query = sa.select(Round.name.label("round"), *_columns(Import, skip=("id", "round_id")))
        query = query.join(Round, Import.round_id == Round.id).order_by(Import.id)
        return self._frame(query)

    def history(
        self, *, facility_id: str | None = None, company_id: str | None = None, include_drafts: bool = False
    ) -> pd.DataFrame:
        """A site (``facility_id``) or a company's sites (``company_id``) across the published
        rounds, with what changed from round to round; see ``geodata.store.history``."""
        from geodata.store import history

        return history.site_history(
            self, facility_id=facility_id, company_id=company_id, include_drafts=include_drafts
        )

    # -- requests and audit log --------------------------------------------------------------

    def request_introduction(
        self,
        round_name: str,
        facility_id: str,
        need: str,
        requester: str,
        message: str = "",
        *,
        requester_role: str = "cluster",
    ) -> int:
        """Record a request to be introduced to a site's company for ``need`` (a stage or
        bottleneck code); returns the request's id. Raises StoreError for an unknown site."""
        now = utc_now()
        with database.writing(self.engine) as session:
            found = _round(session, round_name)
            exists = session.scalar(
                sa.select(Facility.id).where(
                    Facility.round_id == found.id, Facility.facility_id == facility_id
                )
            )
            if exists is None:
                raise StoreError(f"round {found.name!r} has no site {facility_id!r}")
            request = IntroductionRequest(
                round_id=found.id,
                facility_id=facility_id,
                need=need,
                requester=requester,
                message=message,
                requester_role=requester_role,
                status=REQUEST_STATUSES[0],
                created_at=now,
                updated_at=now,
            )
            session.add(request)
            session.flush()
            return request.id

    def introduction_requests(self) -> pd.DataFrame:
        """Every introduction request with its round's name, oldest first."""
        query = sa.select(
            IntroductionRequest.id,
            Round.name.label("round"),
            *_columns(IntroductionRequest, skip=("id", "round_id")),
        )
        query = query.join(Round, IntroductionRequest.round_id == Round.id).order_by(IntroductionRequest.id)
        return self._frame(query)

    def move_request(self, request_id: int, status: str, *, user: str) -> str:
        """Move an introduction request to ``status`` (REQUEST_MOVES says from where); returns the
        status it had. Raises StoreError for an unknown request or a move that is not allowed."""
        with database.writing(self.engine) as session:
            found = session.get(IntroductionRequest, request_id, with_for_update=True)
            if found is None:
                raise StoreError(f"no introduction request #{request_id}")
            allowed = REQUEST_MOVES.get(found.status, ())
            if status not in allowed:
                moves = ", ".join(allowed) or "nothing (it is finished)"
                raise StoreError(f"request #{request_id} is {found.status}: it can move to {moves}")
            before = found.status
            found.status, found.handled_by, found.updated_at = status, user, utc_now()
            return before

    def log(self, user: str, role: str, action: str, detail: str = "") -> None:
        """Append to the audit log: ``user`` did ``action`` (e.g. 'export', 'api-read',
        'sign-in') under ``role``; ``detail`` says on what."""
        with database.writing(self.engine) as session:
            session.add(AuditEntry(at=utc_now(), user_name=user, role=role, action=action, detail=detail))

    def log_entries(self, entries: list[tuple[dt.datetime, str, str, str, str]]) -> None:
        """Append several audit entries (at, user, role, action, detail) in one transaction."""
        with database.writing(self.engine) as session:
            session.add_all(
                AuditEntry(at=at, user_name=user, role=role, action=action, detail=detail)
                for at, user, role, action, detail in entries
            )

    def audit_log(self) -> pd.DataFrame:
        """The audit log, oldest first: at (UTC), user_name, role, action, detail."""
        query = sa.select(*_columns(AuditEntry, skip=("id",))).order_by(AuditEntry.at, AuditEntry.id)
        return self._frame(query)

    # -- whole store -------------------------------------------------------------------------

    def export_geopackage(self, path: str | Path) -> Path:
        """Write every round, import, site, rejected row, problem, request and audit entry to
        one GeoPackage (sites as points, EPSG:4326); ``import_geopackage`` restores it."""
        from geodata.store import gpkg

        return gpkg.export_store(self, Path(path))

    def import_geopackage(self, path: str | Path) -> list[str]:
        """Restore an ``export_geopackage`` file in one transaction; returns the names of the
        rounds added. Rounds already stored (same name and checksum) are skipped; a round of the
        same name from another file raises StoreError and nothing is restored."""
        from geodata.store import gpkg

        return gpkg.import_store(self, Path(path))

    def _frame(self, query: sa.Select[Any]) -> pd.DataFrame:
        with database.reading(self.engine) as session:
            result = session.execute(query)
            return pd.DataFrame(result.all(), columns=list(result.keys()))


def _columns(model: type[Any], skip: tuple[str, ...]) -> list[sa.ColumnElement[Any]]:
    return [column for column in model.__table__.columns if column.name not in skip]


def _round(session: Session, name: str) -> Round:
    found = session.scalars(sa.select(Round).where(Round.name == name)).first()
    if found is None:
        raise UnknownRound(f"no round named {name!r}; `python -m geodata rounds` lists them")
    return found


def _rounds_query() -> sa.Select[Round, Import]:
    """Rounds with the import that created each (reused imports add no round)."""
    return sa.select(Round, Import).join(Import, (Import.round_id == Round.id) & Import.reused.is_(False))


def _source_name(session: Session, found: Round) -> str:
    query = sa.select(Import.source_name).where(Import.round_id == found.id, Import.reused.is_(False))
    return session.scalars(query).one()


def _info(found: Round, first: Import) -> RoundInfo:
    return RoundInfo(
        name=found.name,
        status=found.status,
        sites=first.valid_rows,
        rejected=first.rejected_rows,
        notes=first.notes,
        source_name=first.source_name,
        checksum=found.checksum,
        imported_at=first.imported_at,
        imported_by=first.imported_by,
        published_at=found.published_at,
        published_by=found.published_by,
        discarded_at=found.discarded_at,
        discarded_by=found.discarded_by,
    )
