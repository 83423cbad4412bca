"""The bottleneck overview: where does it hurt, and who can help? Pure computations of a round.

Every count a role gets here is a figure of the disclosure engine's release for that role
(:meth:`AtlasData.release`), read as the map and its summary totals read it, never counted
from the sites: a matrix cell (stage s, bottleneck b) is the total ``bottleneck_reports`` of the
filter setting stage s and bottleneck b, a country's figure the level-0 cell of bottleneck b, the
two small maps the level-2 cells of bottleneck b (need) and of its relieving stage (supply).
A withheld figure stays None with its reason, never 0.

Distances are not engine figures: they are measured from the positions of the sites the role
sees one by one (:meth:`AtlasData.visible`: every placed site for officials, only the sites of
publicly listed companies for the others), so nothing a non-official gets depends on where an
unlisted site lies. Great-circle distances in km (``geodata.partners.great_circle_km``), the
nearest site found with a k-d tree on unit vectors (the chord orders points as the arc does).

An overview reads ``len(settings())`` releases (176): seconds on the sample, about a minute at
100,000 sites. It is built once per (round, NUTS version, role group), in the background
(:func:`prepare`, :func:`warm_round`), and kept as long as the round is in memory. No dash import.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dashboard.data import AtlasData
from dashboard.profile import Figure
from geodata import disclosure, nuts, relief, vocab
from geodata.aggregate import Filters
from geodata.relief import Relief

log = logging.getLogger(__name__)

#: NUTS level of the two small maps (NUTS 2: about 240 regions in the EU, readable at that size).
MAP_LEVEL = 2
#: Distances the ranked list offers for "relief within D km"; the default.
DISTANCES_KM: tuple[int, ...] = (100, 250, 500)
DEFAULT_DISTANCE_KM = 250
RANK_BY: dict[str, str] = {
    "reports": "most sites reporting first",
    "relief": "least relief within the distance first",
}
#: What the distances are measured to, per role group (said on screen and in the exports).
SITES_USED: dict[str, str] = {
    "official": "every placed site",
    "cluster": "only the sites of publicly listed companies (the sites your role sees one by one)",
}

Key = tuple[int, str]  # (NUTS version, role group)


def settings() -> list[Filters]:
    """Every filter setting an overview reads a release of: no filter (the countries), each
    bottleneck, each stage, each (stage, bottleneck) pair; unstaged ones first (a staged release
    reads its unstaged base)."""
    out = [Filters()]
    out += [Filters(bottlenecks=(b,)) for b in vocab.BOTTLENECKS]
    out += [Filters(stages=(s,)) for s in vocab.STAGES]
    out += [Filters(stages=(s,), bottlenecks=(b,)) for b in vocab.BOTTLENECKS for s in vocab.STAGES]
    return out


def _figure(value: object, reason: object) -> Figure:
    code = reason if isinstance(reason, str) else ""
    number = float(value) if isinstance(value, int | float | np.integer | np.floating) else math.nan
    return Figure(None if math.isnan(number) else number, code, disclosure.reason_text(code))


def total(release: disclosure.Release, metric: str) -> Figure:
    """A release's total of ``metric`` as a Figure (what the summary totals show)."""
    return _figure(release.totals.get(metric), release.totals_withheld.get(metric, ""))


def cell(table: pd.DataFrame, code: str, metric: str) -> Figure:
    """One region's ``metric`` of a release table (no data: None without a reason)."""
    if code not in table.index:
        return Figure(None)
    return _figure(table.at[code, metric], table.at[code, disclosure.withheld_column(metric)])


@dataclass(frozen=True)
class Overview:
    """The bottleneck overview of one round, NUTS version and role group.

    ``matrix[(stage, bottleneck)]``: sites reporting the bottleneck among the sites offering the
    stage; ``reports[bottleneck]``: sites reporting it (any stage); ``relieving[stage]``: sites
    offering the stage; ``by_country[bottleneck][country]``: sites reporting it per country
    (``countries``: the countries the round covers). ``need[bottleneck]`` and ``supply[stage]``:
    the level-:data:`MAP_LEVEL` release tables (the metric and its reason column).
    ``nearest_km[stage]``: per region of ``regions`` (the map's order), the distance from the
    region's point to the nearest site offering the stage that the group measures from (NaN:
    none). ``relief[bottleneck]``: see :class:`geodata.relief.Relief` (policy bottlenecks have
    none; capacity for officials only).
    """

    round: str | None
    version: int
    group: str
    matrix: dict[tuple[str, str], Figure]
    reports: dict[str, Figure]
    relieving: dict[str, Figure]
    countries: tuple[str, ...]
    by_country: dict[str, dict[str, Figure]]
    need: dict[str, pd.DataFrame]
    supply: dict[str, pd.DataFrame]
    regions: tuple[str, ...]
    nearest_km: dict[str, np.ndarray]
    relief: dict[str, Relief]
    level: int = MAP_LEVEL

    @property
    def restricted(self) -> bool:
        return disclosure.is_restricted(self.group)

    @property
    def sites_used(self) -> str:
        return SITES_USED[self.group]


# --- positions ----------------------------------------------------------------------------------


def sites_of(data: AtlasData, version: int, group: str) -> relief.Sites:
    """The sites ``group`` sees one by one (every placed site for officials; only the listed
    companies' for the others) with their map positions: nothing else's position is read."""
    index = data.index(version)
    position = data.visible(version, group)
    placed = data.placed(version)
    rows = index.row[position]
    lat = placed["map_lat"].to_numpy(dtype=float, na_value=np.nan)[rows]
    lon = placed["map_lon"].to_numpy(dtype=float, na_value=np.nan)[rows]
    known = np.isfinite(lat) & np.isfinite(lon)
    position = position[known]
    return relief.Sites.build(
        position, lat[known], lon[known], index.stages[position], index.bottlenecks[position],
        index.available[position],
    )  # fmt: skip


# --- building ------------------------------------------------------------------------------------


def build(
    data: AtlasData, version: int, role: str, progress: Callable[[int, int], None] | None = None
) -> Overview:
    """The overview of ``data`` in NUTS ``version`` as ``role`` may see it (not cached here: see
    :func:`overview`). ``progress(done, total)`` is called after each release."""
    if version not in vocab.NUTS_YEARS:
        raise ValueError(f"version must be one of {vocab.NUTS_YEARS}; got {version!r}")
    group = disclosure.group_of(role)
    wanted = settings()
    releases: dict[Filters, disclosure.Release] = {}
    for i, setting in enumerate(wanted, start=1):
        releases[setting] = data.release(version, setting, group)
        if progress is not None:
            progress(i, len(wanted))
    reports = {b: total(releases[Filters(bottlenecks=(b,))], "bottleneck_reports") for b in vocab.BOTTLENECKS}
    matrix = {
        (s, b): total(releases[Filters(stages=(s,), bottlenecks=(b,))], "bottleneck_reports")
        for b in vocab.BOTTLENECKS
        for s in vocab.STAGES
    }
    relieving = {s: total(releases[Filters(stages=(s,))], "facilities") for s in vocab.STAGES}
    countries = tuple(str(c) for c in releases[Filters()].table(0).index)
    by_country = {
        b: {c: cell(releases[Filters(bottlenecks=(b,))].table(0), c, "bottleneck_reports") for c in countries}
        for b in vocab.BOTTLENECKS
    }
    need_columns = ["bottleneck_reports", disclosure.withheld_column("bottleneck_reports")]
    supply_columns = ["facilities", disclosure.withheld_column("facilities")]
    need = {b: releases[Filters(bottlenecks=(b,))].table(MAP_LEVEL)[need_columns] for b in vocab.BOTTLENECKS}
    supply = {s: releases[Filters(stages=(s,))].table(MAP_LEVEL)[supply_columns] for s in vocab.STAGES}
    regions = tuple(data.region_order(version, MAP_LEVEL))
    # GISCO's label point where its file is local (NUTS 2021), else a point inside the polygon
    points = nuts.region_points(version, MAP_LEVEL, data.scale).reindex(list(regions))
    sites = sites_of(data, version, group)
    lat, lon = points["lat"].to_numpy(float), points["lon"].to_numpy(float)
    nearest = {s: relief.nearest_km(lat, lon, sites, sites.offering(s)) for s in vocab.STAGES}
    reliefs = {
        b: relief.relief_of(sites, b, stage, with_capacity=group == "official")
        for b, stage in vocab.BOTTLENECK_RELIEF.items()
        if stage is not None
    }
    return Overview(
        data.round, version, group, matrix, reports, relieving, countries, by_country, need, supply,
        regions, nearest, reliefs,
    )  # fmt: skip


# --- cached per round, built in the background ---------------------------------------------------


@dataclass
class Progress:
    """A build under way: releases done of all, when it started, and how it ended."""

    total: int
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: threading.Event = field(default_factory=threading.Event)
    error: str | None = None

    def seconds_left(self) -> float | None:
        """A rough estimate from the pace so far (None before the first few releases)."""
        if self.done < 5:
            return None
        pace = (time.monotonic() - self.started) / self.done
        return max(0.0, pace * (self.total - self.done))


_lock = threading.Lock()
_built: weakref.WeakKeyDictionary[AtlasData, dict[Key, Overview]] = weakref.WeakKeyDictionary()
_running: weakref.WeakKeyDictionary[AtlasData, dict[Key, Progress]] = weakref.WeakKeyDictionary()


def _key(version: int, role: str) -> Key:
    return version, disclosure.group_of(role)


def cached(data: AtlasData, version: int, role: str) -> Overview | None:
    """The overview if it is built; never starts a build."""
    with _lock:
        return _built.get(data, {}).get(_key(version, role))


def progress(data: AtlasData, version: int, role: str) -> Progress | None:
    """The build under way (or failed last) for ``role``'s group, if any."""
    with _lock:
        return _running.get(data, {}).get(_key(version, role))


def _claim(data: AtlasData, key: Key, retry: bool = True) -> tuple[Progress, bool]:
    """The build of ``key``: the one under way (or the failed one, unless ``retry``), or a new one
    that the caller must run."""
    with _lock:
        running = _running.setdefault(data, {})
        found = running.get(key)
        if found is not None and (found.error is None or not retry):
            return found, False
        running[key] = Progress(len(settings()))
        return running[key], True


def _shared_key(data: AtlasData, key: Key) -> str:
    return f"overview:{getattr(data, 'shared_key', data.fingerprint)}:{key[0]}:{key[1]}"


def _run(data: AtlasData, key: Key, state: Progress) -> None:
    """Build the overview of ``key`` (or read it from the results shared between workers, where
    the app has them) and keep it; ``state`` follows the build."""
    version, group = key
    shared = getattr(data, "shared", None)

    def step(done: int, _total: int) -> None:
        state.done = done

    try:
        found = shared.get(_shared_key(data, key)) if shared is not None else None
        if isinstance(found, Overview) and (found.version, found.group, found.round) == (
            version,
            group,
            data.round,
        ):
            built = found
        else:
            built = build(data, version, group, step)
            if shared is not None:
                shared.set(_shared_key(data, key), built)
    except Exception as exc:
        log.exception("building the bottleneck overview (NUTS %s, %s) failed", version, group)
        state.error = type(exc).__name__
        state.finished.set()
        return
    with _lock:
        _built.setdefault(data, {})[key] = built
        _running.get(data, {}).pop(key, None)
    state.finished.set()


def overview(data: AtlasData, version: int, role: str) -> Overview:
    """The overview, built now (or waited for, when a build is under way) and kept."""
    key = _key(version, role)
    found = cached(data, version, role)
    if found is not None:
        return found
    state, mine = _claim(data, key)
    if mine:
        _run(data, key, state)
    else:
        state.finished.wait()
    found = cached(data, version, role)
    if found is None:
        raise RuntimeError(f"the bottleneck overview could not be built ({state.error})")
    return found


def prepare(data: AtlasData, version: int, role: str, retry: bool = True) -> Overview | None:
    """The overview if built; else None, with its build started in a background thread (one per
    round, version and role group; a failed build is started again only with ``retry``)."""
    found = cached(data, version, role)
    if found is not None:
        return found
    key = _key(version, role)
    state, mine = _claim(data, key, retry)
    if mine:
        name = f"overview-{version}-{key[1]}"
        threading.Thread(target=_run, args=(data, key, state), name=name, daemon=True).start()
    return None


def warm_round(data: AtlasData) -> None:
    """In the background after a round is loaded or published: both role groups' overviews of
    the NUTS version the map opens on, so that the first visit is answered from memory."""
    for group in ("official", "cluster"):
        overview(data, vocab.NUTS_YEARS[0], group)


# --- reading an overview -------------------------------------------------------------------------


def sort_key(figure: Figure) -> tuple[int, float]:
    """Order by a released figure, largest first; figures the role does not see last."""
    return (1, 0.0) if figure.value is None else (0, -figure.value)


@dataclass(frozen=True)
class Ranked:
    """One row of the ranked list."""

    bottleneck: str
    label: str
    stage: str | None  # the relieving stage; None for a policy bottleneck
    reports: Figure
    relieving: Figure | None
    within: int | None  # relieving sites within the distance of a site reporting it
    capacity: float | None  # their available capacity (officials)


def ranked(found: Overview, km: float, by: str = "reports") -> list[Ranked]:
    """Every bottleneck with its reports, its relieving sites and the relief within ``km``, ranked
    ``by`` (:data:`RANK_BY`) from released and visible figures only: withheld counts sort last."""
    if by not in RANK_BY:
        raise ValueError(f"by must be one of {', '.join(RANK_BY)}; got {by!r}")
    rows = []
    for b, label in vocab.BOTTLENECKS.items():
        stage = vocab.BOTTLENECK_RELIEF[b]
        within, capacity = found.relief[b].within(km) if b in found.relief else (None, None)
        relieving = found.relieving[stage] if stage is not None else None
        rows.append(Ranked(b, label, stage, found.reports[b], relieving, within, capacity))
    position = {b: i for i, b in enumerate(vocab.BOTTLENECKS)}

    def key(row: Ranked) -> tuple[object, ...]:
        reports = sort_key(row.reports)
        if by == "relief":
            return (row.within is None, row.within or 0, *reports, position[row.bottleneck])
        return (*reports, position[row.bottleneck])

    return sorted(rows, key=key)


def default_bottleneck(found: Overview) -> str:
    """The bottleneck shown first: the most reported one the role sees a figure of."""
    return ranked(found, DEFAULT_DISTANCE_KM)[0].bottleneck


@dataclass(frozen=True)
class NeedRegion:
    code: str
    name: str
    reports: Figure
    nearest_km: float | None  # to the nearest relieving site the role measures from


def need_regions(found: Overview, bottleneck: str, names: pd.Series) -> list[NeedRegion]:
    """The regions (level :data:`MAP_LEVEL`) where ``bottleneck`` is reported, most first: a
    released count above zero, or withheld (withheld ones last, by name), with the distance
    from the region's point to the nearest relieving site (None for a policy bottleneck)."""
    stage = vocab.BOTTLENECK_RELIEF[bottleneck]
    table = found.need[bottleneck]
    where = {code: i for i, code in enumerate(found.regions)}
    out = []
    for code in table.index:
        figure = cell(table, str(code), "bottleneck_reports")
        if not (figure.withheld or (figure.value or 0) > 0):
            continue
        km = None
        if stage is not None and code in where:
            value = float(found.nearest_km[stage][where[code]])
            km = value if np.isfinite(value) else None
        out.append(NeedRegion(str(code), str(names.get(code, code)), figure, km))
    return sorted(out, key=lambda r: (*sort_key(r.reports), r.name.casefold()))


def cells(found: Overview) -> Iterator[tuple[str, str | None, str | None, Figure, Filters]]:
    """Every figure of the matrix and of the countries, with the filter setting it is the release
    of: (bottleneck, stage or None, country or None, figure, filters)."""
    for b in vocab.BOTTLENECKS:
        yield b, None, None, found.reports[b], Filters(bottlenecks=(b,))
        for s in vocab.STAGES:
            yield b, s, None, found.matrix[(s, b)], Filters(stages=(s,), bottlenecks=(b,))
        for c in found.countries:
            yield b, None, c, found.by_country[b][c], Filters(bottlenecks=(b,))
