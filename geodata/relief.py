"""How far need is from relief: nearest-site distances over sites given as arrays.

A bottleneck is relieved by the sites offering its relieving stage (``vocab.BOTTLENECK_RELIEF``).
Distances are great-circle km (``geodata.partners.great_circle_km``, WGS84 degrees); the
nearest site is found with a k-d tree on unit vectors (the chord between two points on the
sphere orders them as the arc does), so no step loops over the sites in Python. Which sites
go in is the caller's decision: the bottleneck overview passes only the sites a role sees one
by one. No dash import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from geodata import vocab
from geodata.partners import great_circle_km


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the unit sphere, shape (n, 3), for WGS84 degrees."""
    p, lam = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float))
    return np.column_stack((np.cos(p) * np.cos(lam), np.cos(p) * np.sin(lam), np.sin(p)))


@dataclass(frozen=True)
class Sites:
    """Sites as arrays, one element (row) per site: ``position`` (the caller's number for the
    site, e.g. its place in the site index), WGS84 degrees, stage and bottleneck flags (columns
    in vocabulary order) and available capacity (doses/month, 0 where not reported)."""

    position: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    stages: np.ndarray
    bottlenecks: np.ndarray
    available: np.ndarray
    xyz: np.ndarray = field(repr=False)

    @classmethod
    def build(
        cls,
        position: np.ndarray,
        lat: np.ndarray,
        lon: np.ndarray,
        stages: np.ndarray,
        bottlenecks: np.ndarray,
        available: np.ndarray,
    ) -> Sites:
        n = len(position)
        if not all(len(a) == n for a in (lat, lon, stages, bottlenecks, available)):
            raise ValueError("every array must have one element per site")
        if stages.shape != (n, len(vocab.STAGES)) or bottlenecks.shape != (n, len(vocab.BOTTLENECKS)):
            raise ValueError("stages and bottlenecks must be flags, one column per code of the vocabulary")
        lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
            raise ValueError("every site needs coordinates (leave out those without)")
        return cls(
            position,
            lat,
            lon,
            stages,
            bottlenecks,
            np.asarray(available, dtype=float),
            unit_vectors(lat, lon),
        )

    def __len__(self) -> int:
        return len(self.position)

    def offering(self, stage: str) -> np.ndarray:
        """Rows of the sites offering ``stage``."""
        return np.flatnonzero(self.stages[:, list(vocab.STAGES).index(stage)])

    def reporting(self, bottleneck: str) -> np.ndarray:
        """Rows of the sites reporting ``bottleneck``."""
        return np.flatnonzero(self.bottlenecks[:, list(vocab.BOTTLENECKS).index(bottleneck)])


def nearest_km(from_lat: np.ndarray, from_lon: np.ndarray, sites: Sites, chosen: np.ndarray) -> np.ndarray:
    """Great-circle km from each point to the nearest of the ``chosen`` rows of ``sites`` (NaN
    where none is chosen, or for a point without coordinates)."""
    from_lat, from_lon = np.asarray(from_lat, dtype=float), np.asarray(from_lon, dtype=float)
    out = np.full(len(from_lat), np.nan)
    known = np.isfinite(from_lat) & np.isfinite(from_lon)
    if not len(chosen) or not known.any():
        return out
    _d, j = cKDTree(sites.xyz[chosen]).query(unit_vectors(from_lat[known], from_lon[known]), k=1)
    hit = chosen[np.asarray(j, dtype=int)]
    out[known] = great_circle_km(from_lat[known], from_lon[known], sites.lat[hit], sites.lon[hit])
    return out


@dataclass(frozen=True)
class Relief:
    """The sites offering a bottleneck's relieving stage, each with the distance to the nearest
    *other* site reporting the bottleneck (km, ascending; inf where there is none), and, where
    asked for, the running sum of their available capacity in that order (doses/month)."""

    stage: str
    km: np.ndarray
    capacity: np.ndarray | None = None

    def within(self, km: float) -> tuple[int, float | None]:
        """Relieving sites within ``km`` of another site reporting the bottleneck, and their summed
        available capacity (None where it was not asked for)."""
        n = int(np.searchsorted(self.km, km, side="right"))
        if self.capacity is None:
            return n, None
        return n, float(self.capacity[n - 1]) if n else 0.0


def relief_of(sites: Sites, bottleneck: str, stage: str, with_capacity: bool) -> Relief:
    """:class:`Relief` of ``bottleneck`` by the sites offering ``stage``: a site never relieves
    itself (a site that offers the stage and reports the bottleneck is measured to the nearest
    other site reporting it)."""
    relievers, reporters = sites.offering(stage), sites.reporting(bottleneck)
    km = np.full(len(relievers), np.inf)
    if len(relievers) and len(reporters):
        k = min(2, len(reporters))
        _d, j = cKDTree(sites.xyz[reporters]).query(sites.xyz[relievers], k=k)
        j = np.asarray(j, dtype=int).reshape(len(relievers), k)
        first = reporters[j[:, 0]]
        itself = first == relievers
        hit = np.where(itself, reporters[j[:, -1]], first)
        found = ~itself | (k == 2)  # with one reporter, the reporter itself has no other
        km[found] = great_circle_km(
            sites.lat[relievers[found]],
            sites.lon[relievers[found]],
            sites.lat[hit[found]],
            sites.lon[hit[found]],
        )
    order = np.argsort(km, kind="stable")
    capacity = np.cumsum(sites.available[relievers][order]) if with_capacity else None
    return Relief(stage, km[order], capacity)
