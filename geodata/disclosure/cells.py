"""The linked tables of one filter setting: a total and every region of NUTS levels 0-3.

Every published figure of one (version, filters) is a cell of one hierarchy: the total (what
the summary cards show) is the sum of the countries, a country the sum of its level-1 regions,
and so on down to level 3. Secondary suppression and the audit work on this hierarchy.
Cells hold true values, per-company top contributions (for the p% rule) and cell keys (for
the noise); nothing here decides what is shown.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from geodata import vocab
from geodata.aggregate import Filters, SiteIndex
from geodata.disclosure.rules import COUNT_METRICS, MAGNITUDES

TOTAL = "TOTAL"
ADDITIVE: tuple[str, ...] = ("facilities", "bottleneck_reports", *MAGNITUDES)
KEYED: tuple[str, ...] = (*COUNT_METRICS, *MAGNITUDES)


@dataclass
class Cells:
    """True figures of every cell of one filter setting, in hierarchy order (total first).

    ``parent[i]`` is the position of cell i's parent (-1 for the total); ``level[i]`` is -1 for
    the total, else the NUTS level. ``values`` holds facilities, companies, bottleneck_reports,
    capacity and available_capacity; ``top1``/``top2`` the largest and second-largest company
    contributions to each magnitude; ``keys`` a cell key in [0, 1) per metric.
    """

    codes: np.ndarray
    level: np.ndarray
    parent: np.ndarray
    values: dict[str, np.ndarray]
    top1: dict[str, np.ndarray]
    top2: dict[str, np.ndarray]
    keys: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.codes)

    def position(self) -> dict[str, int]:
        return {str(code): i for i, code in enumerate(self.codes)}

    def equations(self) -> list[np.ndarray]:
        """Each parent with its children: cell positions [parent, child, child, ...]."""
        order = np.argsort(self.parent, kind="stable")
        parents = self.parent[order]
        starts = np.searchsorted(parents, np.arange(len(self)))
        ends = np.searchsorted(parents, np.arange(len(self)), side="right")
        return [
            np.concatenate(([p], order[starts[p] : ends[p]])) for p in range(len(self)) if ends[p] > starts[p]
        ]


def record_keys(facility_ids: np.ndarray, secret: str) -> dict[str, np.ndarray]:
    """A uniform number in [0, 1) per site and metric, fixed by the secret and the facility id.

    Each metric has its own keys, so that knowing one metric's noise tells nothing of another's.
    """
    keys: dict[str, np.ndarray] = {}
    for metric in KEYED:
        salt = f"{secret}\x1f{metric}\x1f".encode()
        keys[metric] = np.array(
            [
                int.from_bytes(hashlib.blake2b(salt + str(f).encode(), digest_size=8).digest(), "big") / 2**64
                for f in facility_ids
            ],
            dtype=float,
        )
    return keys


def selected(index: SiteIndex, filters: Filters) -> np.ndarray:
    """Sites counted under ``filters``; the country filter goes by the country of the site's region,
    so that the total is exactly the sum of the countries shown."""
    unfiltered = Filters(filters.stages, filters.bottlenecks, filters.platforms, (), filters.sizes)
    keep = index.mask(unfiltered)
    if filters.countries:
        keep &= np.isin(index.region_codes[0][index.region_idx[0]], filters.countries)
    return keep


def _top_two(group: np.ndarray, values: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Largest and second-largest value per group."""
    top1 = np.zeros(n_groups)
    top2 = np.zeros(n_groups)
    if len(group) == 0:
        return top1, top2
    order = np.lexsort((-values, group))
    g, v = group[order], values[order]
    first = np.ones(len(g), dtype=bool)
    first[1:] = g[1:] != g[:-1]
    top1[g[first]] = v[first]
    second = np.zeros(len(g), dtype=bool)
    second[1:] = (g[1:] == g[:-1]) & first[:-1]
    top2[g[second]] = v[second]
    return top1, top2


def build(
    index: SiteIndex, filters: Filters, site_keys: dict[str, np.ndarray], keep: np.ndarray | None = None
) -> Cells:
    """The cells of one filter setting over the regions that hold sites of the dataset.

    Regions of a level with no site of the dataset at all are not cells: they are zero in every
    setting and published as such. ``keep`` replaces the filters' own site selection (the audit
    uses it for the difference of two settings); the regions stay those of ``filters``.
    """
    keep = selected(index, filters) if keep is None else keep
    reports: np.ndarray = np.asarray(index.bottlenecks.any(axis=1), dtype=bool)
    codes: list[np.ndarray] = [np.array([TOTAL])]
    levels: list[np.ndarray] = [np.array([-1])]
    groups: list[np.ndarray] = [np.zeros(index.n, dtype=np.int64)]
    offset = 1
    for level in vocab.NUTS_LEVELS:
        level_codes = index.region_codes[level]
        wanted = np.ones(len(level_codes), dtype=bool)
        if filters.countries:
            wanted = np.isin(np.array([str(c)[:2] for c in level_codes]), filters.countries)
        renumber = np.full(len(level_codes), -1, dtype=np.int64)
        renumber[wanted] = offset + np.arange(int(wanted.sum()))
        codes.append(level_codes[wanted])
        levels.append(np.full(int(wanted.sum()), level))
        groups.append(renumber[index.region_idx[level]])
        offset += int(wanted.sum())
    all_codes = np.concatenate(codes).astype(str)
    n = len(all_codes)
    where = {code: i for i, code in enumerate(all_codes)}
    parent = np.array(
        [-1] + [where.get(c[:-1], 0) if len(c) > 2 else 0 for c in all_codes[1:]], dtype=np.int64
    )

    values = {m: np.zeros(n) for m in (*COUNT_METRICS, *MAGNITUDES)}
    top1 = {m: np.zeros(n) for m in MAGNITUDES}
    top2 = {m: np.zeros(n) for m in MAGNITUDES}
    keys = {m: np.zeros(n) for m in KEYED}
    weights = {"capacity": index.capacity, "available_capacity": index.available}
    for group in groups:
        g = group[keep]
        sites_in = g >= 0
        g = g[sites_in]
        rows = np.flatnonzero(keep)[sites_in]
        values["facilities"] += np.bincount(g, minlength=n)
        values["bottleneck_reports"] += np.bincount(g[reports[rows]], minlength=n)
        width = int(index.company.max(initial=0)) + 1
        pair_ids, pair_of = np.unique(g * width + index.company[rows], return_inverse=True)
        pair_group = pair_ids // width
        values["companies"] += np.bincount(pair_group, minlength=n)
        for metric, weight in weights.items():
            values[metric] += np.bincount(g, weights=weight[rows], minlength=n)
            per_pair = np.bincount(pair_of.ravel(), weights=weight[rows], minlength=len(pair_ids))
            first, second = _top_two(pair_group, per_pair, n)
            top1[metric] += first
            top2[metric] += second
        for metric in KEYED:
            counted = reports[rows] if metric == "bottleneck_reports" else np.ones(len(rows), dtype=bool)
            keys[metric] += np.bincount(g[counted], weights=site_keys[metric][rows][counted], minlength=n)
    keys = {m: np.mod(k, 1.0) for m, k in keys.items()}
    return Cells(all_codes, np.concatenate(levels), parent, values, top1, top2, keys)
