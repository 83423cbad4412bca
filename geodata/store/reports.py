"""What the store answers: rounds, import reports, placement problems. Plain data, no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from geodata import placement, records

#: Kinds of placement problem, in the order a report lists them.
UNMATCHED, NEAREST, SWAPPED, OTHER_COUNTRY = "unmatched", "nearest", "swapped", "other_country"
PLACEMENT_KINDS: tuple[str, ...] = (UNMATCHED, SWAPPED, NEAREST, OTHER_COUNTRY)
# The phrases geodata.placement writes into nuts_note for these cases
_SWAPPED_NOTE = "look swapped"
_OTHER_COUNTRY_NOTE = "but the record states"


class StoreError(ValueError):
    """A request the store cannot carry out as asked; the message says what to do instead."""


class UnknownRound(StoreError):
    """No round of that name."""


@dataclass(frozen=True)
class RoundInfo:
    """One survey round as ``python -m geodata rounds`` lists it (timestamps in UTC)."""

    name: str
    status: str
    sites: int
    rejected: int
    notes: int
    source_name: str
    checksum: str
    imported_at: dt.datetime
    imported_by: str
    published_at: dt.datetime | None = None
    published_by: str | None = None
    discarded_at: dt.datetime | None = None
    discarded_by: str | None = None


@dataclass(frozen=True)
class PlacementProblem:
    """A site that one NUTS version places badly: unmatched, nearest, swapped or other country."""

    year: int
    source_row: int
    facility_id: str
    kind: str
    note: str

    def __str__(self) -> str:
        return f"NUTS {self.year}, row {self.source_row}, {self.facility_id}: {self.kind}: {self.note}"


def placement_problems(year: int, rows: list[tuple[int, str, str, str]]) -> list[PlacementProblem]:
    """Classify placed sites ``(source_row, facility_id, nuts_match, nuts_note)`` of one version;
    a site may have two problems (nearest and in another country)."""
    found = []
    for source_row, facility_id, match, note in rows:
        kinds = []
        if match == placement.UNMATCHED:
            kinds.append(SWAPPED if _SWAPPED_NOTE in note else UNMATCHED)
        elif match == placement.NEAREST:
            kinds.append(NEAREST)
        if _OTHER_COUNTRY_NOTE in note:
            kinds.append(OTHER_COUNTRY)
        found += [PlacementProblem(year, source_row, facility_id, kind, note) for kind in kinds]
    return sorted(found, key=lambda p: (p.year, PLACEMENT_KINDS.index(p.kind), p.source_row))


#: SQL LIKE pattern of the notes that make a site placed 'within' a problem (another country).
OTHER_COUNTRY_LIKE = f"%{_OTHER_COUNTRY_NOTE}%"


@dataclass
class ImportReport:
    """The outcome of one import: the round, its counts, rejected rows and placement problems.

    ``reused`` means the file's checksum matched an existing round, which was taken as it was
    (its name may differ from the one asked for) and nothing new was stored.
    """

    round: RoundInfo
    reused: bool
    problems: list[records.Problem]  # errors (rejecting rows) and notes (conversions), by row
    rejected_rows: pd.DataFrame  # as records.load_facilities gives them
    placement_problems: list[PlacementProblem] = field(default_factory=list)

    @property
    def errors(self) -> list[records.Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def placement_counts(self) -> dict[int, dict[str, int]]:
        """NUTS version -> problem kind -> number of sites."""
        counts: dict[int, dict[str, int]] = {}
        for problem in self.placement_problems:
            per_year = counts.setdefault(problem.year, dict.fromkeys(PLACEMENT_KINDS, 0))
            per_year[problem.kind] += 1
        return counts
