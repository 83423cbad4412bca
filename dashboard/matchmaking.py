"""Partner search on a survey round, for one role: the sites, the origin, the ranked result, the
CSV, and introduction requests. The API, the Partners view and its export all call these, so
each gets the same answer under the same rules (geodata.partners; the sites a non-official may
search are the disclosure engine's ``visible`` sites, the ones the site layer shows).
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref

import numpy as np
import pandas as pd

from dashboard.data import AtlasData
from dashboard.exports import provenance, to_csv_bytes
from geodata import disclosure, nuts, partners, vocab
from geodata.aggregate import Filters
from geodata.placement import assign_points
from geodata.store import Store

#: Longest message of an introduction request, in characters.
MAX_MESSAGE = 1000
MAX_NEED_TEXT = 200

_lock = threading.Lock()
_sites: weakref.WeakKeyDictionary[AtlasData, dict[int, partners.Sites]] = weakref.WeakKeyDictionary()


class OriginError(ValueError):
    """The origin cannot be used (unknown or unseen site, unknown region, a point off the map)."""

    def __init__(self, message: str, parameter: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def sites(data: AtlasData, version: int) -> partners.Sites:
    """Every placed site of the round as search arrays, built once per round and NUTS version;
    ``listed`` marks the sites non-officials may see one by one (the engine's rule)."""
    with _lock:
        found = _sites.get(data, {}).get(version)
    if found is not None:
        return found
    placed = data.placed(version)
    listed = np.zeros(len(placed), dtype=bool)
    listed[data.index(version).row[data.visible(version, "cluster")]] = True
    built = partners.Sites.build(placed, listed)
    with _lock:
        _sites.setdefault(data, {})[version] = built
    return built


def _seen(found: partners.Sites, role: str) -> np.ndarray:
    return found.listed if disclosure.is_restricted(role) else np.ones(len(found), dtype=bool)


def site_origin(data: AtlasData, version: int, facility_id: object, role: str) -> partners.Origin:
    """A site the role may see, as the origin (its own position, country and region)."""
    found = sites(data, version)
    if not isinstance(facility_id, str):
        raise OriginError("site: give a facility_id", "site")
    match = np.flatnonzero((found.facility_id == facility_id) & _seen(found, role))
    if not len(match):  # the same answer for an unknown site and one the role may not see
        raise OriginError(f"site: no site {facility_id[:40]!r} that you may see in this round", "site")
    i = int(match[0])
    return partners.Origin(
        lat=float(found.lat[i]),
        lon=float(found.lon[i]),
        label=f"site {facility_id} ({found.company[i]})",
        country=str(found.country[i]),
        nuts3=str(found.nuts3[i]) or None,
        facility_id=facility_id,
        kind="site",
    )


def region_origin(version: int, code: object) -> partners.Origin:
    """A NUTS region of ``version`` (any level), from its label point."""
    if not isinstance(code, str) or not code:
        raise OriginError("region: give a NUTS code", "region")
    for level in vocab.NUTS_LEVELS:
        points = nuts.region_points(version, level)
        if code in points.index:
            row = points.loc[[code]].iloc[0].to_dict()
            lat, lon, kind = float(row["lat"]), float(row["lon"]), str(row["kind"])
            name = nuts.names(version).get(code, code)
            return partners.Origin(
                lat=lat,
                lon=lon,
                label=f"{name} ({code}), its {kind}",
                country=code[:2],
                nuts3=code if level == 3 else None,
                kind="region",
            )
    raise OriginError(f"region: {code[:40]!r} is not a NUTS {version} region", "region")


def point_origin(version: int, lat: object, lon: object) -> partners.Origin:
    """A point (WGS84 degrees), with the country and NUTS 3 region it lies in, if any."""
    try:
        if isinstance(lat, bool) or isinstance(lon, bool):
            raise TypeError
        la, lo = float(lat), float(lon)  # type: ignore[arg-type]
        probe = partners.Origin(la, lo, "point")
    except (TypeError, ValueError):
        raise OriginError(
            "lat and lon must be numbers of degrees (lat -90..90, lon -180..180)", "lat"
        ) from None
    found = assign_points(np.array([lo]), np.array([la]), version)["nuts3"].iloc[0]
    nuts3 = str(found) if isinstance(found, str) else None
    where = f"in {nuts3}" if nuts3 else "outside the NUTS regions"
    return partners.Origin(
        probe.lat,
        probe.lon,
        f"point {la:.4f}, {lo:.4f} ({where})",
        country=nuts3[:2] if nuts3 else None,
        nuts3=nuts3,
        kind="point",
    )


def search(
    data: AtlasData, version: int, origin: partners.Origin, query: partners.Query, role: str
) -> partners.Result:
    """Ranked candidates for ``role`` (PermissionError for an official-only filter; ValueError
    when a same-country/cross-border search starts outside every country)."""
    if query.scope != "any" and origin.country is None:
        raise ValueError(
            f"scope {query.scope}: the origin lies outside every country; choose scope any or another origin"
        )
    return partners.search(sites(data, version), origin, query, role)


def export(
    data: AtlasData,
    version: int,
    origin: partners.Origin,
    query: partners.Query,
    result: partners.Result,
    role: str,
    now: dt.datetime,
) -> tuple[bytes, str]:
    """The result list as the CSV export: the role's columns, the NUTS names, and the query and
    origin written into the provenance columns."""
    table = result.table
    table["platforms"] = [";".join(codes) for codes in table["platforms"]]
    names = data.names(version)
    table.insert(list(table.columns).index("nuts3") + 1, "nuts3_name", table["nuts3"].map(names))
    common = provenance(data.name, version, Filters(), role, now, data.round)
    # the origin's coordinates as numbers: text would start with '-' west of Greenwich and be
    # written as "'-9.13930" (exports.neutralise), which no reader takes for a number
    meta: dict[str, str | float] = {
        "query": query.describe(),
        "origin": origin.label,
        "origin_lat": round(origin.lat, 5),
        "origin_lon": round(origin.lon, 5),
        "ranking": result.ranking,
        **{k: v for k, v in common.items() if k != "filters"},
    }
    for key, value in meta.items():
        table[key] = value
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return to_csv_bytes(table), f"partners_{query.need}_{data.stem}_{stamp}.csv"


def json_rows(result: partners.Result) -> list[dict[str, object]]:
    """The result rows as JSON-ready dictionaries (null where a figure is not reported)."""
    return list(result.rows())


def can_request(role: str) -> bool:
    """Who may send an introduction request: signed-in cluster associations and officials."""
    return role in ("cluster", "official")


def request_introduction(
    store: Store,
    data: AtlasData,
    version: int,
    role: str,
    user: str,
    facility_id: object,
    need: object,
    message: object,
) -> int:
    """Store a request to be introduced to a site's company; returns its id.

    Raises PermissionError for a role that may not ask, ValueError (with what to fix) for a need
    that is not a code, a message too long, or a site the role may not see (the same answer as
    for a site that does not exist)."""
    if not can_request(role):
        raise PermissionError("sign in as a cluster association to request an introduction")
    if data.round is None:
        raise ValueError("this dataset is not a stored survey round; requests cannot be recorded")
    if not isinstance(need, str) or (need not in vocab.STAGES and need not in vocab.BOTTLENECKS):
        raise ValueError("need: choose a stage or bottleneck")
    text = message if isinstance(message, str) else ""
    if len(text) > MAX_MESSAGE:
        raise ValueError(f"message: at most {MAX_MESSAGE} characters (this one has {len(text)})")
    found = sites(data, version)
    if (
        not isinstance(facility_id, str)
        or not ((found.facility_id == facility_id) & _seen(found, role)).any()
    ):
        raise ValueError("no such site in this round")
    return store.request_introduction(data.round, facility_id, need, user, text.strip(), requester_role=role)


def requests_of(store: Store, user: str, role: str) -> pd.DataFrame:
    """A requester's own requests (id, when, round, need, site, status): a cluster user sees only
    theirs, never who else asked for what."""
    table = store.introduction_requests()
    mine = table[(table["requester"] == user) & (table["requester_role"] == role)]
    return mine[["id", "created_at", "round", "need", "facility_id", "status"]].reset_index(drop=True)
