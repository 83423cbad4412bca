"""A site's history across survey rounds: followed by its facility_id, or a company's sites by
company_id (where the files give one).

One row per (round, site) for every published round that holds the site, oldest first (by
published_at, then round id), with ``change`` saying what differs from the previous round the
site appears in, in the columns shown: "new" at its first appearance, then e.g. "moved to DE212;
capacity 1.0 M → 1.5 M; stages added: fill_finish", or "unchanged". A published round between two
appearances that lacks the site gives an "absent" row (only round, published_at and facility_id
filled in). Drafts are left out unless asked for (they follow the published rounds, by id);
discarded rounds never appear.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from geodata.store import database
from geodata.store.models import DRAFT, PUBLISHED, Facility, Round

if TYPE_CHECKING:
    from geodata.store.api import Store

#: The columns of ``site_history``, in order.
COLUMNS: tuple[str, ...] = (
    "round",
    "published_at",
    "facility_id",
    "company",
    "company_id",
    "country",
    "nuts3_2021",
    "nuts3_2024",
    "stages",
    "bottlenecks",
    "capacity_doses_per_month",
    "available_capacity_pct",
    "public_listing",
    "change",
)
#: The facility columns read from the store (all of COLUMNS but round, published_at and change).
_SITE_FIELDS: tuple[str, ...] = COLUMNS[2:-1]
NEW, ABSENT, UNCHANGED = "new", "absent", "unchanged"
#: How a missing value reads in ``change``.
NOT_GIVEN = "—"


def site_history(
    store: Store,
    *,
    facility_id: str | None = None,
    company_id: str | None = None,
    include_drafts: bool = False,
) -> pd.DataFrame:
    """The history of the site ``facility_id``, or of every site of ``company_id``.

    Exactly one of the two must be given (ValueError otherwise). Rows are ordered by round, then
    facility_id; a site's "previous round" is the previous one it appears in (for a company:
    with that company_id). An empty frame (with the columns) when no round holds the site.
    """
    chosen = [
        (name, value)
        for name, value in (("facility_id", facility_id), ("company_id", company_id))
        if value is not None
    ]
    if len(chosen) != 1:
        raise ValueError("give exactly one of facility_id or company_id")
    key, wanted = chosen[0][0], chosen[0][1].strip()
    if not wanted:
        raise ValueError(f"{key} must not be empty")

    statuses = (PUBLISHED, DRAFT) if include_drafts else (PUBLISHED,)
    site_columns = [getattr(Facility, name) for name in _SITE_FIELDS]
    rounds_query = (
        sa.select(Round.id, Round.name, Round.published_at)
        .where(Round.status.in_(statuses))
        # published rounds by publication, then drafts (never published) by id
        .order_by(Round.published_at.is_(None), Round.published_at, Round.id)
    )
    sites_query = (
        sa.select(Facility.round_id, *site_columns)
        .join(Round, Facility.round_id == Round.id)
        .where(Round.status.in_(statuses), getattr(Facility, key) == wanted)
    )
    with database.reading(store.engine) as session:
        rounds = session.execute(rounds_query).all()
        sites = session.execute(sites_query).mappings().all()

    by_round: dict[int, dict[str, Mapping[Any, Any]]] = {}
    for stored in sites:
        by_round.setdefault(stored["round_id"], {})[stored["facility_id"]] = stored
    # each site is shown from the first round it appears in to the last
    spans: dict[str, tuple[int, int]] = {}
    for i, found in enumerate(rounds):
        for fid in by_round.get(found.id, {}):
            spans[fid] = (spans.get(fid, (i, i))[0], i)
    rows: list[dict[str, Any]] = []
    previous: dict[str, Mapping[str, Any]] = {}
    for i, found in enumerate(rounds):
        held = by_round.get(found.id, {})
        for fid in sorted(f for f, (first, last) in spans.items() if first <= i <= last):
            row: dict[str, Any] = {"round": found.name, "published_at": found.published_at}
            site = held.get(fid)
            if site is None:
                row |= dict.fromkeys(_SITE_FIELDS) | {"facility_id": fid, "change": ABSENT}
            else:
                row |= {name: site[name] for name in _SITE_FIELDS}
                row["stages"], row["bottlenecks"] = list(site["stages"]), list(site["bottlenecks"])
                row["change"] = describe_change(previous.get(fid), row)
                previous[fid] = row
            rows.append(row)
    return _frame(rows)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
    for name in ("capacity_doses_per_month", "available_capacity_pct"):
        frame[name] = frame[name].astype("Float64")
    frame["public_listing"] = frame["public_listing"].astype("boolean")
    for name in ("round", "facility_id", "company", "company_id", "country", "nuts3_2021", "nuts3_2024"):
        frame[name] = frame[name].astype("string")
    for name in ("stages", "bottlenecks"):
        frame[name] = frame[name].astype(object)
    frame["change"] = frame["change"].astype("string")
    return frame


def describe_change(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> str:
    """What differs from ``before`` (the site in the previous round it appears in) to ``after``,
    in the history's columns: "new" without ``before``, "unchanged" when nothing differs."""
    if before is None:
        return NEW
    parts: list[str] = []
    if (before["nuts3_2021"], before["nuts3_2024"]) != (after["nuts3_2021"], after["nuts3_2024"]):
        parts.append(f"moved to {after['nuts3_2024'] or after['nuts3_2021'] or 'no NUTS 3 region'}")
    elif before["country"] != after["country"]:
        parts.append(f"country {before['country']} → {after['country']}")
    for name, label in (("company", "company"), ("company_id", "company_id")):
        if before[name] != after[name]:
            parts.append(f"{label} {before[name] or NOT_GIVEN} → {after[name] or NOT_GIVEN}")
    capacity = before["capacity_doses_per_month"], after["capacity_doses_per_month"]
    if capacity[0] != capacity[1]:
        parts.append("capacity {} → {}".format(*format_doses_pair(*capacity)))
    available = before["available_capacity_pct"], after["available_capacity_pct"]
    if available[0] != available[1]:
        parts.append("available {} → {}".format(*(_percent(v) for v in available)))
    for name in ("stages", "bottlenecks"):
        parts += _list_change(name, before[name], after[name])
    if before["public_listing"] != after["public_listing"]:
        parts.append("now publicly listed" if after["public_listing"] else "no longer publicly listed")
    return "; ".join(parts) or UNCHANGED


def _list_change(name: str, before: Sequence[str], after: Sequence[str]) -> list[str]:
    added = [code for code in after if code not in before]
    removed = [code for code in before if code not in after]
    return [
        f"{name} {what}: {', '.join(codes)}"
        for what, codes in (("added", added), ("removed", removed))
        if codes
    ]


def format_doses(value: float | None, decimals: int = 1) -> str:
    """Doses in short form: 1.5 M, 250.0 k, 800; "—" when not given."""
    if value is None or pd.isna(value):
        return NOT_GIVEN
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.{decimals}f} {unit}"
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def format_doses_pair(before: float | None, after: float | None) -> tuple[str, str]:
    """Both amounts in short form, with as many decimals as it takes to tell them apart."""
    for decimals in range(1, 7):
        shown = format_doses(before, decimals), format_doses(after, decimals)
        if shown[0] != shown[1]:
            return shown
    return format_doses(before, 7), format_doses(after, 7)


def _percent(value: float | None) -> str:
    return NOT_GIVEN if value is None or pd.isna(value) else f"{value:g}%"
