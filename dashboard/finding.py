"""The search box's index per round and role group: regions of both NUTS versions for everyone,
companies and sites only from the sites the role group may see one by one (the same rule as the
site layer and the site list), so a search never names what the role may not see."""

from __future__ import annotations

import functools
import threading
import weakref

import pandas as pd

from dashboard.data import AtlasData
from dashboard.exports import sites_table
from geodata import disclosure, nuts, search, vocab
from geodata.companies import normalise_name

#: Options sent to the browser per keystroke.
OPTIONS = 12

_lock = threading.Lock()
_indexes: weakref.WeakKeyDictionary[AtlasData, dict[str, search.SearchIndex]] = weakref.WeakKeyDictionary()


@functools.cache
def _region_entries(scale: str) -> tuple[search.Entry, ...]:
    return tuple(search.region_entries({year: nuts.names(year, scale) for year in vocab.NUTS_YEARS}))


def visible_rows(data: AtlasData, version: int, role: str) -> pd.DataFrame:
    """The placed sites ``role`` may see one by one (the site layer's rule), as rows of ``placed``."""
    rows = data.index(version).row[data.visible(version, disclosure.group_of(role))]
    return data.placed(version).iloc[rows]


def index(data: AtlasData, role: str) -> search.SearchIndex:
    """The index of what ``role`` may find in this round (built once per role group)."""
    group = disclosure.group_of(role)
    with _lock:
        found = _indexes.get(data, {}).get(group)
    if found is not None:
        return found
    sites = visible_rows(data, vocab.NUTS_YEARS[0], group)[["facility_id", "company", "city", "country"]]
    built = search.SearchIndex.build([*_region_entries(data.scale), *search.company_entries(sites)])
    with _lock:
        _indexes.setdefault(data, {})[group] = built
    return built


def options(data: AtlasData, role: str, query: object, version: int) -> list[dict[str, str]]:
    """Dropdown options for a typed query: value "region:<code>", "site:<facility_id>" or
    "company:<key>"; regions of the shown NUTS version only."""
    if not isinstance(query, str) or not query.strip():
        return []
    hits = index(data, role).search(query[: search.MAX_QUERY], version=version, limit=OPTIONS)
    out = []
    for hit in hits:
        entry = hit.entry
        if entry.kind == "region":
            value = f"region:{entry.code}"
        elif entry.kind == "site":
            value = f"site:{entry.key.removeprefix('site:')}"
        else:
            value = entry.key
        # "search": what the dropdown's own filter matches against; the hits already match the
        # query (accents, typos), so they must not be filtered out again by their label
        out.append({"label": f"{entry.label} · {entry.detail}", "value": value, "search": query})
    return out


def site_place(
    data: AtlasData, role: str, version: int, kind: str, key: str
) -> tuple[str | None, float | None, float | None] | None:
    """Where a chosen site (or a company's first site) lies: its NUTS 3 code and map position;
    None unless the role may see it one by one."""
    placed = visible_rows(data, version, role)
    if kind == "site":
        chosen = placed[placed["facility_id"] == key]
    elif kind == "company":
        chosen = placed[placed["company"].astype(str).map(normalise_name) == key]
    else:
        return None
    if chosen.empty:
        return None
    first = chosen.iloc[0]
    nuts3 = first.get("nuts3")
    lat, lon = first.get("map_lat"), first.get("map_lon")
    known = lat is not None and lon is not None and not (pd.isna(lat) or pd.isna(lon))
    return (
        str(nuts3) if isinstance(nuts3, str) else None,
        float(lat) if known and lat is not None else None,
        float(lon) if known and lon is not None else None,
    )


def site_card(data: AtlasData, role: str, version: int, facility_id: object) -> dict[str, object] | None:
    """Every field of one site that ``role`` may see (``disclosure.site_fields``) with its NUTS
    regions; None unless the role may see the site one by one."""
    if not isinstance(facility_id, str):
        return None
    placed = data.placed(version)
    rows = data.index(version).row[data.visible(version, disclosure.group_of(role))]
    match = rows[placed["facility_id"].to_numpy()[rows] == facility_id]  # one comparison, not a loop
    if not len(match):
        return None
    table = sites_table(placed, [int(match[0])], role, data.names(version), {})
    return {str(k): (None if pd.isna(v) else v) for k, v in table.iloc[0].to_dict().items()}
