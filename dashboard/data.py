"""The dashboard's data access: one facility file, placed per NUTS version, results cached.

Everything here is computed on first use and kept for the life of the app (keyed by its
arguments); callbacks only call these methods. No dash import.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geodata import disclosure, nuts, placement, records, vocab
from geodata.aggregate import Filters, SiteIndex
from geodata.store import Store
from layers import geometry

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FILE = ROOT / "data" / "sample_facilities.csv"


@dataclass(frozen=True)
class Payload:
    """Bytes served to the browser once, with their ETag."""

    gzipped: bytes
    etag: str


def _payload(obj: object) -> Payload:
    raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Payload(gzip.compress(raw, 6, mtime=0), hashlib.sha256(raw).hexdigest()[:20])


def _round_name(store: Store, path: Path, checksum: str) -> str:
    """The file's name without its suffix, or with a checksum prefix when another file has it."""
    taken = {info.name: info.checksum for info in store.rounds()}
    if taken.get(path.stem, checksum) == checksum:
        return path.stem
    return f"{path.stem}-{checksum[:8]}"


class AtlasData:
    """A survey round and everything derived from it for the screen.

    With a ``store``, the file is imported into it as a published round, or the round with the
    same checksum is reused, and the facilities are read back from the store; without one, the
    file is read directly.
    """

    def __init__(
        self,
        facility_path: str | Path = SAMPLE_FILE,
        rules: disclosure.Rules | None = None,
        scale: str = "20M",
        tolerance_km: float = 10.0,
        store: Store | None = None,
    ) -> None:
        self.path = Path(facility_path)
        self.rules = rules or disclosure.Rules.from_env()
        self.scale = scale
        self.tolerance_km = tolerance_km
        checksum = hashlib.sha256(self.path.read_bytes()).hexdigest()
        if store is None:
            table = records.load_facilities(self.path)
            self.round: str | None = None
            self.facilities = table.facilities
            self.rejected_rows = len(table.rejected)
        else:
            report = store.import_file(
                self.path, _round_name(store, self.path, checksum), "atlas", publish=True
            )
            self.round = report.round.name
            self.facilities = store.facilities(self.round)
            self.rejected_rows = report.round.rejected
        #: names this dataset in URLs, so browsers never reuse another dataset's cached sites
        #: (keyed, so that it says nothing about the file to someone who holds a copy of it)
        self.fingerprint = hashlib.sha256(f"{self.rules.key}:{checksum}".encode()).hexdigest()[:16]
        self.is_sample = self.path.resolve() == SAMPLE_FILE.resolve()
        self.countries = sorted(set(self.facilities["country"].dropna()))
        self.map_countries = sorted(set(vocab.EU_MEMBER_STATES) | set(self.countries))
        # bound-method caches: results live as long as this object
        self._placing = threading.Lock()
        self.placed = functools.cache(self._placed)
        self.index = functools.cache(self._index)
        self._releases = functools.lru_cache(maxsize=512)(self._release)
        self.site_keys = functools.cache(self._site_keys)
        self.region_geojson = functools.cache(self._region_geojson)
        self.basemap_geojson = functools.cache(self._basemap_geojson)
        self.sites_geojson = functools.cache(self._sites_geojson)
        self.level_codes = functools.cache(self._level_codes)
        self.region_order = functools.cache(self._region_order)

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
        base = None
        if filters.stages:
            unstaged = Filters((), filters.bottlenecks, filters.platforms, filters.countries, filters.sizes)
            base = self._releases(version, unstaged, group)
        all_regions = {level: self.level_codes(version, level) for level in vocab.NUTS_LEVELS}
        index = self.index(version)
        return disclosure.release(
            index, filters, group, self.rules, self.site_keys(version), all_regions, base
        )

    def regions(self, version: int, level: int, filters: Filters, role: str) -> pd.DataFrame:
        """Per-region figures of one level as ``role`` may see them."""
        return self.release(version, filters, role).table(level)

    def _level_codes(self, version: int, level: int) -> tuple[str, ...]:
        """Every NUTS_ID of one version and level."""
        return tuple(nuts.load(version, level, self.scale)["NUTS_ID"])

    def summary(
        self, version: int, filters: Filters, role: str
    ) -> tuple[dict[str, float | None], dict[str, str]]:
        """The summary cards' totals as ``role`` may see them, and why any is withheld."""
        result = self.release(version, filters, role)
        return result.totals, result.totals_withheld

    def unplaced(self, version: int) -> int:
        return int(self.placed(version)["nuts3"].isna().sum())

    def _region_order(self, version: int, level: int) -> list[str]:
        return geometry.region_order(nuts.load(version, level, self.scale), self.map_countries)

    def geometry_key(self, version: int, level: int) -> str:
        return f"{version}-{level}"

    def _region_geojson(self, version: int, level: int) -> Payload:
        regions = nuts.load(version, level, self.scale)
        key = self.geometry_key(version, level)
        return _payload(geometry.regions_geojson(regions, key, self.map_countries))

    def _basemap_geojson(self, version: int) -> Payload:
        return _payload(geometry.basemap_geojson(nuts.load(version, 0, self.scale), self.map_countries))

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
