"""The disclosure engine: what one role may see of one filter setting, in one place.

``release`` turns the true cells of a filter setting into the figures a role may see:
- official: every figure as it is (the reasons another role would see are kept, for information);
- cluster and public: primary suppression (fewer than ``min_companies`` companies; the p% rule
  on each magnitude on its own), secondary suppression over the linked tables (total and NUTS
  levels 0-3, solved with HiGHS), and a deterministic cell-key noise on every published figure,
  so that the same request always gets the same answer and differencing two filter settings
  cannot isolate one company (see README, "Confidentiality").

Every view, export and API route asks this module and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geodata import records, vocab
from geodata.aggregate import Filters, SiteIndex
from geodata.disclosure import cells as cells_mod
from geodata.disclosure import secondary
from geodata.disclosure.rules import (
    DERIVED,
    DOMINANT,
    FEW,
    MAGNITUDES,
    PATTERN_OF,
    REASONS,
    SECONDARY,
    Rules,
    is_restricted,
)

METRICS = tuple(vocab.METRICS)


def withheld_column(metric: str) -> str:
    """Name of the column that says why ``metric`` is withheld ('' when shown)."""
    return f"{metric}_withheld"


@dataclass(frozen=True)
class Pattern:
    """Which cells are withheld per metric group, and why (codes of rules.REASONS, '' when shown)."""

    why: dict[str, np.ndarray]  # metric -> reason code per cell


@dataclass
class Release:
    """The figures of one (version, filters) that one role may see.

    ``tables[level]``: one row per region of the level (index ``nuts{level}``), the metric codes
    as float columns (NaN where withheld) and a ``<metric>_withheld`` column with the reason
    code ('' when shown). ``totals``: the summary cards (None where withheld) and
    ``totals_withheld`` their reason codes.
    """

    role: str
    filters: Filters
    tables: dict[int, pd.DataFrame]
    totals: dict[str, float | None]
    totals_withheld: dict[str, str] = field(default_factory=dict)

    def table(self, level: int) -> pd.DataFrame:
        if level not in self.tables:
            raise ValueError(f"level must be one of {vocab.NUTS_LEVELS}; got {level!r}")
        return self.tables[level]


def reason_text(code: str) -> str:
    """What the screen says for a reason code ('' for none)."""
    return REASONS.get(code, "")


def group_of(role: str) -> str:
    """The role whose rules ``role`` sees through: public sees exactly what cluster sees, so the
    two share one computed (and cached) release and one site layer."""
    return "cluster" if is_restricted(role) else "official"


@dataclass(frozen=True)
class Primary:
    """The primary rules on each cell: too few companies, and the p% rule per magnitude."""

    few: np.ndarray
    dominant: dict[str, np.ndarray]

    def protected(self, metric: str) -> np.ndarray:
        """Cells whose ``metric`` a primary rule protects."""
        return self.few | self.dominant[metric] if metric in self.dominant else self.few


def primary(cells: cells_mod.Cells, rules: Rules) -> Primary:
    """Fewer than ``min_companies`` companies; for each magnitude on its own, the p% rule: the
    remainder after the two largest companies is less than p % of the largest."""
    companies = cells.values["companies"]
    few = (companies > 0) & (companies < rules.min_companies)
    dominant = {}
    for metric in MAGNITUDES:
        v, x1, x2 = cells.values[metric], cells.top1[metric], cells.top2[metric]
        dominant[metric] = ~few & (v > 0) & (v - x1 - x2 < rules.p_percent / 100.0 * x1)
    return Primary(few, dominant)


def pattern(cells: cells_mod.Cells, rules: Rules, shown: Mapping[str, np.ndarray]) -> Pattern:
    """Primary and secondary suppression of every metric group over the hierarchy of ``cells``;
    ``shown`` are the figures as the restricted roles would see them (:func:`published`)."""
    values = cells.values
    rules_hit = primary(cells, rules)
    few = rules_hit.few
    equations = cells.equations()
    present = (values["companies"] > 0).astype(float)

    def protect(metric: str, primary: np.ndarray, lower: np.ndarray) -> np.ndarray:
        if not rules.secondary:
            return primary
        v = values[metric]
        level = protection(metric, v, rules)
        return secondary.suppress(v, lower, cells.level, primary, equations, level, 1.0)

    def protect_count(metric: str, lower: np.ndarray) -> np.ndarray:
        """Counts carry noise of up to ``count_noise``, which already keeps most withheld counts
        from being worked out of their parent and siblings; only those that an attacker who
        knows the noise bound could still pin down (near the least value) get complements."""
        if not rules.secondary or not rules.count_noise:
            return protect(metric, few, lower)
        v = values[metric]
        need = protection(metric, v, rules)
        bound = float(rules.count_noise)
        low0 = np.where(few, lower, np.maximum(shown[metric] - bound, 0.0))
        high0 = np.where(few, np.inf, shown[metric] + bound)
        low, high = secondary.bounded_intervals(low0, high0, np.ones(len(cells), dtype=bool), equations)
        failing = few & (high - low < need - 1e-9)
        if not failing.any():
            return few
        # every few cell stays withheld; only the failing ones need complements, checked against
        # the same noise-aware attacker (an exact model would ask far more of single-site cells,
        # whose least value is their value, and cascade up to the totals)
        noisy = (np.maximum(shown[metric] - bound, 0.0), shown[metric] + bound)
        need_now = np.where(failing, need, 0.0)
        return secondary.suppress(v, lower, cells.level, few, equations, need_now, 1.0, published=noisy)

    counts = protect_count("facilities", present) | protect_count("bottleneck_reports", np.zeros(len(cells)))
    why: dict[str, np.ndarray] = {}
    why["facilities"] = np.where(few, FEW, np.where(counts, SECONDARY, ""))
    for metric in MAGNITUDES:
        dominant = rules_hit.dominant[metric]
        withheld = protect(metric, few | dominant, np.zeros(len(cells)))
        why[metric] = np.where(few, FEW, np.where(dominant, DOMINANT, np.where(withheld, SECONDARY, "")))
    return Pattern(why)


def protection(metric: str, values: np.ndarray, rules: Rules) -> np.ndarray:
    """Width an attacker's interval for each withheld value must keep.

    Magnitudes: ``protection_percent`` of the value on each side; counts: one unit (a site count
    must never be pinned down to a number). Zeros need none (no contributor's figure in them)."""
    if metric in MAGNITUDES:
        return secondary.protection_levels(values, rules.protection_percent / 100.0, 1.0)
    return np.where(values > 0, 1.0, 0.0)


def _count_noise(key: np.ndarray, bound: int) -> np.ndarray:
    return np.floor(key * (2 * bound + 1)) - bound


def published(cells: cells_mod.Cells, rules: Rules) -> dict[str, np.ndarray]:
    """Every cell's figures with the cell-key noise of the restricted roles (zeros stay zero)."""
    v = cells.values
    out: dict[str, np.ndarray] = {}
    for metric in ("facilities", "bottleneck_reports"):
        noisy = v[metric] + _count_noise(cells.keys[metric], rules.count_noise)
        out[metric] = np.where(v[metric] > 0, np.maximum(noisy, 0), 0.0)
    noisy = np.maximum(
        v["companies"] + _count_noise(cells.keys["companies"], rules.count_noise), rules.min_companies
    )
    out["companies"] = np.where(v["companies"] > 0, noisy, 0.0)
    share = rules.noise_percent / 100.0
    for metric in MAGNITUDES:
        noise = share * cells.top1[metric] * (2.0 * cells.keys[metric] - 1.0)
        out[metric] = np.where(v[metric] > 0, np.round(v[metric] + noise), 0.0)
    return out


@dataclass(frozen=True)
class Core:
    """What every role's release of one filter setting is made from: the true cells, their
    published (noisy) figures and the suppression pattern. The pattern does not depend on the
    role, so one core serves the official's release and the restricted one alike."""

    filters: Filters
    cells: cells_mod.Cells
    noisy: dict[str, np.ndarray]
    why: dict[str, np.ndarray]


def core(index: SiteIndex, filters: Filters, rules: Rules, site_keys: Mapping[str, np.ndarray]) -> Core:
    """The cells, noisy figures and suppression pattern of ``filters`` (the costly part of a release)."""
    cells = cells_mod.build(index, filters, dict(site_keys))
    noisy = published(cells, rules)
    return Core(filters, cells, noisy, pattern(cells, rules, noisy).why)


def release(
    index: SiteIndex,
    filters: Filters,
    role: str,
    rules: Rules,
    site_keys: Mapping[str, np.ndarray],
    all_regions: Mapping[int, Sequence[str]] | None = None,
    base: Release | None = None,
    made: Core | None = None,
) -> Release:
    """What ``role`` may see of every level and the totals for ``filters``.

    ``all_regions`` (level -> every NUTS code of the level) adds zero rows for regions without
    sites in the countries the dataset covers. ``base`` is the release of the same filters
    without the stage filter (for specialisation; computed here when needed and not given).
    ``made``: the :func:`core` of ``filters``, when already computed (for another role).
    """
    restricted = is_restricted(role)
    if made is None or made.filters != filters:
        made = core(index, filters, rules, site_keys)
    cells, noisy, why = made.cells, made.noisy, made.why
    shown = noisy if restricted else {m: cells.values[m].astype(float) for m in cells.values}
    if filters.stages and base is None:
        unstaged = Filters((), filters.bottlenecks, filters.platforms, filters.countries, filters.sizes)
        base = release(index, unstaged, role, rules, site_keys, all_regions)
    covered = set(np.unique(index.country)) | {str(c)[:2] for c in index.region_codes[0]}
    columns: dict[str, np.ndarray] = {}
    reasons: dict[str, np.ndarray] = {}
    for metric in METRICS:
        if metric == "specialisation":
            continue
        reason = why[PATTERN_OF[metric]]
        columns[metric] = np.where((reason != "") & restricted, np.nan, shown[metric])
        reasons[metric] = reason
    tables: dict[int, pd.DataFrame] = {}
    for level in vocab.NUTS_LEVELS:
        at = cells.level == level
        frame = pd.DataFrame(
            {m: columns[m][at] for m in columns}, index=pd.Index(cells.codes[at], name=f"nuts{level}")
        )
        for metric in columns:
            frame[withheld_column(metric)] = reasons[metric][at]
        extra = [c for c in (all_regions or {}).get(level, ()) if c[:2] in covered and c not in frame.index]
        if filters.countries:
            extra = [c for c in extra if c[:2] in filters.countries]
        if extra:
            zeros = pd.DataFrame(0.0, index=pd.Index(extra, name=frame.index.name), columns=list(columns))
            for metric in columns:
                zeros[withheld_column(metric)] = ""
            frame = pd.concat([frame, zeros])
        frame = frame.sort_index()
        _specialisation(frame, level, filters, base, cells, columns, restricted)
        tables[level] = frame[[*METRICS, *(withheld_column(m) for m in METRICS)]]
    totals, totals_why = _totals(cells, columns, reasons, restricted)
    return Release(role, filters, tables, totals, totals_why)


def _specialisation(
    frame: pd.DataFrame,
    level: int,
    filters: Filters,
    base: Release | None,
    cells: cells_mod.Cells,
    columns: dict[str, np.ndarray],
    restricted: bool,
) -> None:
    """Location quotient from the figures this role sees: the region's share of sites offering the
    stage(s), over the same share for all regions shown; withheld where a figure it needs is."""
    column = withheld_column("specialisation")
    frame[column] = frame[withheld_column("facilities")]
    if not filters.stages or base is None:
        frame["specialisation"] = np.nan
        return
    base_table = base.table(level).reindex(frame.index)
    total = columns["facilities"][0]
    base_total = base.totals.get("facilities")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = frame["facilities"].to_numpy(float) / base_table["facilities"].to_numpy(float)
        overall = total / base_total if base_total else np.nan
        frame["specialisation"] = share / overall if overall else np.nan
    if restricted:
        base_hidden = base_table[withheld_column("facilities")].fillna("").to_numpy(str) != ""
        own_hidden = frame[column].to_numpy(str) != ""
        frame.loc[base_hidden & ~own_hidden, column] = DERIVED
        frame.loc[frame[column] != "", "specialisation"] = np.nan
        if base.totals_withheld.get("facilities") or not np.isfinite(total):
            # the share over all regions is confidential: no region's quotient can be shown; regions
            # without any site have none to show anyway
            has_sites = base_table["facilities"].fillna(1.0).to_numpy(float) > 0
            frame["specialisation"] = np.nan
            frame.loc[(frame[column] == "") & has_sites, column] = DERIVED


def _totals(
    cells: cells_mod.Cells,
    columns: dict[str, np.ndarray],
    reasons: dict[str, np.ndarray],
    restricted: bool,
) -> tuple[dict[str, float | None], dict[str, str]]:
    totals: dict[str, float | None] = {}
    why: dict[str, str] = {}
    for metric in ("facilities", "companies", "capacity", "available_capacity", "bottleneck_reports"):
        value = float(columns[metric][0])
        totals[metric] = None if np.isnan(value) else value
        why[metric] = str(reasons[metric][0])
    countries = int(np.count_nonzero(cells.values["facilities"][cells.level == 0]))
    hidden = restricted and bool(why["companies"])
    totals["countries"] = None if hidden else float(countries)
    why["countries"] = why["companies"] if hidden else ""
    return totals, why


#: Site fields any role may see (of the sites it may see at all).
SITE_FIELDS: tuple[str, ...] = (
    "facility_id",
    "company",
    "company_id",
    "country",
    "city",
    "company_size",
    "cluster",
    "stages",
    "platforms",
    "bottlenecks",
    "gmp_certified",
    "contact_consent",
)
#: Facility-level fields only officials see: the commercially sensitive ones and the listing flag.
OFFICIAL_SITE_FIELDS: tuple[str, ...] = (*records.SENSITIVE, "public_listing")


def site_fields(role: str) -> tuple[str, ...]:
    """The fields of a site record ``role`` may see."""
    return SITE_FIELDS if is_restricted(role) else (*SITE_FIELDS, *OFFICIAL_SITE_FIELDS)


def visible_sites(index: SiteIndex, role: str) -> np.ndarray:
    """Sites ``role`` may see one by one: all for officials, else only of publicly listed companies."""
    if not is_restricted(role):
        return np.ones(index.n, dtype=bool)
    return index.listed.copy()


__all__ = [
    "DERIVED",
    "DOMINANT",
    "FEW",
    "SECONDARY",
    "Core",
    "Primary",
    "Release",
    "core",
    "group_of",
    "pattern",
    "primary",
    "published",
    "reason_text",
    "release",
    "site_fields",
    "visible_sites",
    "withheld_column",
]
