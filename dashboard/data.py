"""The dashboard's data access: the published survey rounds, each placed per NUTS version.

``Atlas`` is the one data provider the app holds: it lists the published rounds of the survey
store, picks the default one and hands out an ``AtlasData`` per round. A round's content never
changes once imported (a correction is a new round), so everything an ``AtlasData`` computes is
cached for its life; publishing or discarding a round changes which rounds are offered, which
``Atlas`` reads from the store on every request. Callbacks only call these methods. No dash import.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd

from geodata import disclosure, nuts, placement, records, vocab
from geodata.aggregate import Filters, SiteIndex
from geodata.store import RoundInfo, Store, UnknownRound
from layers import geometry

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FILE = ROOT / "data" / "sample_facilities.csv"


def warming() -> bool:
    """Whether to build region profiles, search indexes, partner arrays and the bottleneck
    overview in the background after start and after a publish (``ATLAS_WARM``, default yes;
    ``no`` builds each on first use: for tests and short-lived processes)."""
    return os.environ.get("ATLAS_WARM", "yes").strip().lower() not in ("no", "0", "false", "off")


class SharedResults(Protocol):
    """Where a result computed by one process is kept for every other (``dashboard.cache``:
    Redis); ``get`` gives None for anything it does not have."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any, timeout: int | None = None) -> None: ...

    def compute_once(self, key: str, compute: Callable[[], Any], usable: Callable[[Any], bool]) -> Any: ...


@dataclass(frozen=True)
class Payload:
    """Bytes served to the browser once, with their ETag."""

    gzipped: bytes
    etag: str


def _payload(obj: object) -> Payload:
    raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Payload(gzip.compress(raw, 6, mtime=0), hashlib.sha256(raw).hexdigest()[:20])


#: Geometry payloads built so far, by ETag: the geometry routes serve what a URL names, whichever
#: round's map asked for it (rounds with sites in other countries draw more of the map).
_GEOMETRY: dict[tuple[str, str], Payload] = {}


def _geometry(kind: str, payload: Payload) -> Payload:
    _GEOMETRY[(kind, payload.etag)] = payload
    return payload


def geometry_payload(kind: str, etag: object) -> Payload | None:
    """The payload of ``kind`` ('regions-2021-2', 'basemap-2024') with this ETag, if built."""
    return _GEOMETRY.get((kind, etag)) if isinstance(etag, str) else None


def import_start_file(store: Store, path: Path) -> str:
    """Import the start-up file as a published round named after it, or reuse the round with
    its checksum (what ``Atlas`` does on start; a deployment does it once before the workers
    start). Returns the round's name; raises as ``Store.import_file``."""
    checksum = hashlib.sha256(path.read_bytes()).hexdigest()
    return store.import_file(path, _round_name(store, path, checksum), "atlas", publish=True).round.name


def _round_name(store: Store, path: Path, checksum: str) -> str:
    """The file's name without its suffix, or with a checksum prefix when another file has it."""
    taken = {info.name: info.checksum for info in store.rounds()}
    if taken.get(path.stem, checksum) == checksum:
        return path.stem
    return f"{path.stem}-{checksum[:8]}"


class AtlasData:
    """A survey round and everything derived from it for the screen.

    ``AtlasData(path)`` reads a facility file directly. With a ``store``, the file is imported
    into it as a published round, or the round with the same checksum is reused, and the
    facilities are read back from the store. ``AtlasData.of_round(store, info)`` reads a stored
    round.
    """

    def __init__(
        self,
        facility_path: str | Path = SAMPLE_FILE,
        rules: disclosure.Rules | None = None,
        scale: str = "20M",
        tolerance_km: float = 10.0,
        store: Store | None = None,
        *,
        round_info: RoundInfo | None = None,
        shapes: Shapes | None = None,
        shared: SharedResults | None = None,
    ) -> None:
        self.rules = rules or disclosure.Rules.from_env()
        self.scale = scale
        self.tolerance_km = tolerance_km
        self.published_at = None
        if round_info is not None and store is not None:  # a stored round
            self.path = Path(round_info.source_name)
            checksum = round_info.checksum
            self.round: str | None = round_info.name
            self.facilities = store.facilities(round_info.name)
            self.rejected_rows = round_info.rejected
            self.published_at = round_info.published_at
        else:
            self.path = Path(facility_path)
            checksum = hashlib.sha256(self.path.read_bytes()).hexdigest()
            if store is None:
                table = records.load_facilities(self.path)
                self.round = None
                self.facilities = table.facilities
                self.rejected_rows = len(table.rejected)
            else:
                report = store.import_file(
                    self.path, _round_name(store, self.path, checksum), "atlas", publish=True
                )
                self.round = report.round.name
                self.facilities = store.facilities(self.round)
                self.rejected_rows = report.round.rejected
                self.published_at = report.round.published_at
        self.checksum = checksum
        #: names this dataset in URLs, so browsers never reuse another dataset's cached sites
        #: (keyed, so that it says nothing about the file to someone who holds a copy of it)
        self.fingerprint = hashlib.sha256(f"{self.rules.key}:{checksum}".encode()).hexdigest()[:16]
        #: results shared with other workers and hosts are keyed by everything they depend on:
        #: the round (its name and checksum never change together), the rules with their key
        #: (hashed), how sites are placed
        self.shared = shared
        self.shared_key = hashlib.sha256(
            repr((self.rules, self.round, checksum, scale, tolerance_km)).encode()
        ).hexdigest()[:24]
        self.is_sample = checksum == sample_checksum()
        self.countries = sorted(set(self.facilities["country"].dropna()))
        self.map_countries = sorted(set(vocab.EU_MEMBER_STATES) | set(self.countries))
        same = shapes is not None and shapes.scale == scale and shapes.countries == self.map_countries
        self.shapes = shapes if shapes is not None and same else Shapes(scale, self.map_countries)
        # bound-method caches: results live as long as this object
        self._placing = threading.Lock()
        self.placed = functools.cache(self._placed)
        self.index = functools.cache(self._index)
        self._releases = functools.lru_cache(maxsize=512)(self._release)
        # the role-independent part of a release, shared by the two role groups' releases
        self._cores = functools.lru_cache(maxsize=192)(self._core)  # the overview reads 176 settings
        self.site_keys = functools.cache(self._site_keys)
        self.sites_geojson = functools.cache(self._sites_geojson)

    @classmethod
    def of_round(
        cls,
        store: Store,
        info: RoundInfo,
        rules: disclosure.Rules | None = None,
        scale: str = "20M",
        tolerance_km: float = 10.0,
        shapes: Shapes | None = None,
        shared: SharedResults | None = None,
    ) -> AtlasData:
        """The stored round ``info`` (``shapes``: reused if it draws the same countries)."""
        return cls(
            SAMPLE_FILE, rules, scale, tolerance_km, store, round_info=info, shapes=shapes, shared=shared
        )

    @property
    def stem(self) -> str:
        """What export file names start with: the round's name, else the file's."""
        return self.round or self.path.stem

    @property
    def name(self) -> str:
        return self.path.name

    def survey_period(self) -> str:
        dates = self.facilities["survey_date"].dropna()
        if dates.empty:
            return "survey date not given"
        first, last = dates.min().date(), dates.max().date()
        return f"surveyed {first:%d %b %Y}" if first == last else f"surveyed {first:%d %b} – {last:%d %b %Y}"

    def warm(self) -> None:
        """Build what every first page load needs (region shapes of both versions, all levels,
        the places of both versions and the default view of each role group), so that no user
        waits for it."""
        for version in vocab.NUTS_YEARS:
            for level in vocab.NUTS_LEVELS:
                self.region_geojson(version, level)
            self.basemap_geojson(version)
        for version in vocab.NUTS_YEARS:
            self.index(version)
        for role in ("official", "cluster"):  # the default view of each role group
            self.release(vocab.NUTS_YEARS[0], Filters(), role)

    def _placed(self, version: int) -> pd.DataFrame:
        # placing loads shared spatial indexes on first use, which is not safe from two threads
        with self._placing:
            return placement.place(self.facilities, version, self.scale, self.tolerance_km)

    def _index(self, version: int) -> SiteIndex:
        return SiteIndex.from_placed(self.placed(version))

    def _site_keys(self, version: int) -> dict[str, np.ndarray]:
        return disclosure.record_keys(self.index(version).facility_id, self.rules.key)

    def release(self, version: int, filters: Filters, role: str) -> disclosure.Release:
        """Everything ``role`` may see of one filter setting (all levels and totals), cached.

        Cluster and public share the same rules, so they share one cached release."""
        return self._releases(version, filters, disclosure.group_of(role))

    def _release(self, version: int, filters: Filters, group: str) -> disclosure.Release:
        # shared between workers and hosts under a key naming the role group; what is read back
        # must also say it is that group's release of these filters, or it is computed here
        if self.shared is None:
            return self._compute_release(version, filters, group)
        setting = hashlib.sha256(repr(filters).encode()).hexdigest()[:24]
        key = f"release:{self.shared_key}:{version}:{group}:{setting}"

        def usable(found: object) -> bool:
            return isinstance(found, disclosure.Release) and found.role == group and found.filters == filters

        # computed by one thread of one process at a time; the others wait for its result
        made = self.shared.compute_once(key, lambda: self._compute_release(version, filters, group), usable)
        return cast(disclosure.Release, made)

    def _compute_release(self, version: int, filters: Filters, group: str) -> disclosure.Release:
        base = None
        if filters.stages:
            unstaged = Filters((), filters.bottlenecks, filters.platforms, filters.countries, filters.sizes)
            base = self._releases(version, unstaged, group)
        all_regions = {level: self.level_codes(version, level) for level in vocab.NUTS_LEVELS}
        index = self.index(version)
        made = self._cores(version, filters)
        return disclosure.release(
            index, filters, group, self.rules, self.site_keys(version), all_regions, base, made
        )

    def _core(self, version: int, filters: Filters) -> disclosure.Core:
        return disclosure.core(self.index(version), filters, self.rules, self.site_keys(version))

    def regions(self, version: int, level: int, filters: Filters, role: str) -> pd.DataFrame:
        """Per-region figures of one level as ``role`` may see them."""
        return self.release(version, filters, role).table(level)

    def level_codes(self, version: int, level: int) -> tuple[str, ...]:
        """Every NUTS_ID of one version and level."""
        return self.shapes.level_codes(version, level)

    def summary(
        self, version: int, filters: Filters, role: str
    ) -> tuple[dict[str, float | None], dict[str, str]]:
        """The summary cards' totals as ``role`` may see them, and why any is withheld."""
        result = self.release(version, filters, role)
        return result.totals, result.totals_withheld

    def unplaced(self, version: int) -> int:
        return int(self.placed(version)["nuts3"].isna().sum())

    def region_order(self, version: int, level: int) -> list[str]:
        return self.shapes.region_order(version, level)

    def geometry_key(self, version: int, level: int) -> str:
        return f"{version}-{level}"

    def region_geojson(self, version: int, level: int) -> Payload:
        return self.shapes.region_geojson(version, level)

    def basemap_geojson(self, version: int) -> Payload:
        return self.shapes.basemap_geojson(version)

    def visible(self, version: int, role: str) -> np.ndarray:
        """Positions in the site index of the sites ``role`` may see one by one."""
        return np.flatnonzero(disclosure.visible_sites(self.index(version), role))

    def _sites_geojson(self, version: int, group: str) -> Payload:
        """Site points of the sites the role group may see, and nothing derived from any other;
        a company is named only on the sites of that group (the same rule, applied twice)."""
        index = self.index(version)
        rows = index.row[self.visible(version, group)]
        placed = self.placed(version)
        named = np.zeros(len(placed), dtype=bool)
        named[rows] = True
        return _payload(geometry.sites_geojson(placed, rows.tolist(), named))

    def sites_payload(self, version: int, role: str) -> Payload:
        return self.sites_geojson(version, disclosure.group_of(role))

    def names(self, version: int) -> pd.Series:
        return nuts.names(version, self.scale)

    def jump_targets(self, version: int) -> dict[str, list[list[float]]]:
        """Bounds of continental Europe and of each outermost region, for the jump control."""
        targets = {"europe": geometry.EUROPE_BOUNDS}
        targets.update(geometry.bounds_of(nuts.load(version, 2, self.scale), geometry.OUTERMOST))
        return targets


class Shapes:
    """Region codes, order and shapes of every NUTS version and level, for one set of drawn
    countries; built once, shared by every round that draws the same countries."""

    def __init__(self, scale: str, countries: list[str]) -> None:
        self.scale, self.countries = scale, countries
        self.level_codes = functools.cache(self._level_codes)
        self.region_order = functools.cache(self._region_order)
        self.region_geojson = functools.cache(self._region_geojson)
        self.basemap_geojson = functools.cache(self._basemap_geojson)

    def _level_codes(self, version: int, level: int) -> tuple[str, ...]:
        return tuple(nuts.load(version, level, self.scale)["NUTS_ID"])

    def _region_order(self, version: int, level: int) -> list[str]:
        return geometry.region_order(nuts.load(version, level, self.scale), self.countries)

    def _region_geojson(self, version: int, level: int) -> Payload:
        regions = nuts.load(version, level, self.scale)
        payload = _payload(geometry.regions_geojson(regions, f"{version}-{level}", self.countries))
        return _geometry(f"regions-{version}-{level}", payload)

    def _basemap_geojson(self, version: int) -> Payload:
        payload = _payload(geometry.basemap_geojson(nuts.load(version, 0, self.scale), self.countries))
        return _geometry(f"basemap-{version}", payload)


@functools.cache
def sample_checksum() -> str:
    """SHA-256 of the bundled fictional sample (a round with it is shown as sample data)."""
    return hashlib.sha256(SAMPLE_FILE.read_bytes()).hexdigest()


class NoPublishedRound(UnknownRound):
    """The store holds no published round."""


class Atlas:
    """The dashboard's data provider: the published rounds of the survey store.

    The round of the start-up file (``--data``, or the bundled sample) is the default until a
    round is published after start; from then on the newest published round is. Up to ``keep``
    rounds stay in memory with their caches (least recently used go first).
    """

    def __init__(
        self,
        store: Store,
        start_path: str | Path = SAMPLE_FILE,
        rules: disclosure.Rules | None = None,
        scale: str = "20M",
        tolerance_km: float = 10.0,
        keep: int = 4,
        shared: SharedResults | None = None,
    ) -> None:
        self.store = store
        self.rules = rules or disclosure.Rules.from_env()
        self.scale, self.tolerance_km, self.keep = scale, tolerance_km, keep
        self.shared = shared
        self.start = AtlasData(start_path, self.rules, scale, tolerance_km, store=store, shared=shared)
        #: the demo (role switcher, no accounts) serves the bundled sample file itself
        self.demo = Path(start_path).resolve() == SAMPLE_FILE.resolve()
        self._started = self.start.published_at
        self._lock = threading.Lock()
        self._loaded: OrderedDict[tuple[str, str], AtlasData] = OrderedDict()
        self._loading: dict[tuple[str, str], threading.Lock] = {}
        self._loaded[(str(self.start.round), self.start.checksum)] = self.start

    def published(self) -> list[RoundInfo]:
        """The published rounds, newest first (read from the store each time: another worker or
        the command line may have published or discarded one)."""
        rounds = [info for info in self.store.rounds() if info.status == "published"]
        return sorted(
            rounds, key=lambda info: (info.published_at is not None, info.published_at), reverse=True
        )

    def default_round(self, published: list[RoundInfo] | None = None) -> str:
        """The round shown when none is picked. Raises NoPublishedRound."""
        published = self.published() if published is None else published
        if not published:
            raise NoPublishedRound("no round is published; an official can import and publish one")
        newest = published[0]
        start = next((info for info in published if info.name == self.start.round), None)
        if start is None or (newest.published_at and self._started and newest.published_at > self._started):
            return newest.name
        return start.name

    def get(self, name: object = None) -> AtlasData:
        """The published round ``name`` (None: the default round).

        Raises UnknownRound when no published round has that name."""
        published = self.published()
        wanted = self.default_round(published) if name is None else name
        info = next((i for i in published if i.name == wanted), None)
        if info is None:
            raise UnknownRound(f"no published round named {str(wanted)[:80]!r}")
        key = (info.name, info.checksum)
        with self._lock:
            found = self._loaded.get(key)
            if found is not None:
                self._loaded.move_to_end(key)
                return found
            # one thread reads a round; the others asking for it meanwhile wait for that one (a
            # just-published round is asked for by every request thread at once)
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                found = self._loaded.get(key)
            if found is None:
                found = AtlasData.of_round(
                    self.store,
                    info,
                    self.rules,
                    self.scale,
                    self.tolerance_km,
                    shapes=self.start.shapes,
                    shared=self.shared,
                )
            with self._lock:
                found = self._loaded.setdefault(key, found)
                self._loaded.move_to_end(key)
                while len(self._loaded) > self.keep:
                    self._loaded.popitem(last=False)
                self._loading.pop(key, None)
        return found

    def loaded(self, name: str) -> AtlasData | None:
        """The round ``name`` if this process holds it in memory (no store access)."""
        with self._lock:
            return next((data for (n, _c), data in self._loaded.items() if n == name), None)

    def prepare(self, name: str) -> None:
        """Load a just-published round and build what its first page needs (both NUTS versions
        placed, each role group's default view), so that no user waits for it. Errors are
        logged: the round is then built on its first request instead."""
        try:
            self.get(name).warm()
        except Exception:
            log.exception("preparing round %r failed; it is built on first use", name)

    def resolve(self, name: object) -> tuple[AtlasData, str | None]:
        """The round a request asks for, or the default round with a notice saying why."""
        if name is None or name == "":
            return self.get(None), None
        try:
            return self.get(name), None
        except UnknownRound:
            if isinstance(name, str):
                return self.get(None), f"No published round named {name[:60]!r}; showing the latest."
            return self.get(None), "The round must be given by its name; showing the latest."
