"""Attack what a role is shown, and say how closely each protected figure can be pinned down.

For a set of filter settings (no filter, every single code, pairs of stages, pairs of countries,
stage x country), the audit takes exactly what the disclosure engine releases and tries:
- direct reading: is a protected figure printed?
- linear programming over the published tables of one setting (HiGHS via scipy.optimize.linprog):
  the tightest interval of every withheld figure given every published figure of the same
  setting taken as exact (an attacker stronger than a real one, who would see noisy figures),
  the hierarchy's sums (total = countries, country = its regions, ...) and what a withheld
  figure is known to be at least (0, or 1 site). This covers parent minus children and cards
  minus map, and every other linear combination of the same tables;
- differencing between two settings where one selects a subset of the other's sites (stage A
  versus stages A and B, one country versus two, ...): for every region whose difference holds
  a protected figure (fewer than min_companies companies, or dominated by the p% rule), the
  interval the two published figures give, with the largest noise an attacker may assume.
A protected figure is safe when its interval is at least its protection level wide.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

from geodata import vocab
from geodata.aggregate import Filters, SiteIndex
from geodata.disclosure import cells as cells_mod
from geodata.disclosure import secondary
from geodata.disclosure.engine import Release, primary, protection, release
from geodata.disclosure.rules import MAGNITUDES, Rules

ADDITIVE = ("facilities", "bottleneck_reports", *MAGNITUDES)


@dataclass(frozen=True)
class Finding:
    """One protected figure and the tightest interval an attacker gets for it."""

    attack: str  # 'direct', 'linear programming', 'differencing'
    setting: str
    cell: str
    metric: str
    value: float
    low: float
    high: float
    protection: float

    @property
    def width(self) -> float:
        return self.high - self.low

    @property
    def safe(self) -> bool:
        return self.width >= self.protection - 1e-6

    def __str__(self) -> str:
        verdict = "ok" if self.safe else "DISCLOSED"
        return (
            f"{verdict}: {self.attack}; {self.setting}; {self.cell} {self.metric}: true {self.value:,.0f}, "
            f"attacker interval [{self.low:,.0f}, {_fmt(self.high)}], needs width {self.protection:,.0f}"
        )


def _closeness(finding: Finding) -> float:
    return finding.width / finding.protection if finding.protection > 0 else np.inf


def _fmt(value: float) -> str:
    return "inf" if not np.isfinite(value) else f"{value:,.0f}"


@dataclass
class Report:
    """Everything the audit found."""

    settings: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.safe]

    def tightest(self, metric: str | None = None) -> Finding | None:
        """The protected figure (of ``metric``, or any) pinned down most closely, relative to its
        protection level."""
        scored = [f for f in self.findings if f.protection > 0 and metric in (None, f.metric)]
        return min(scored, key=lambda f: f.width / f.protection, default=None)

    def per_cell(self) -> list[Finding]:
        """For every protected figure (setting, cell, metric), the tightest interval any attack
        gave, relative to its protection level."""
        best: dict[tuple[str, str, str], Finding] = {}
        for f in self.findings:
            key = (f.setting, f.cell, f.metric)
            old = best.get(key)
            if old is None or _closeness(f) < _closeness(old):
                best[key] = f
        return list(best.values())

    def summary(self) -> str:
        by_attack: dict[str, list[Finding]] = {}
        for f in self.findings:
            by_attack.setdefault(f.attack, []).append(f)
        lines = [f"{self.settings} filter settings attacked"]
        for attack, found in sorted(by_attack.items()):
            bad = [f for f in found if not f.safe]
            lines.append(
                f"  {attack}: {len(found)} protected figures tried, {len(bad)} pinned down too closely"
            )
        for metric in ADDITIVE:
            tight = self.tightest(metric)
            if tight is not None:
                lines.append(f"  tightest {metric}: {tight}")
        return "\n".join(lines)


def settings(index: SiteIndex, *, full: bool = True) -> list[Filters]:
    """Filter settings to attack: none, every single code, and (``full``) pairs of stages,
    pairs of countries and every stage x country."""
    countries = sorted({str(c)[:2] for c in index.region_codes[0]})
    out = [Filters()]
    out += [Filters(stages=(s,)) for s in vocab.STAGES]
    out += [Filters(bottlenecks=(b,)) for b in vocab.BOTTLENECKS]
    out += [Filters(platforms=(p,)) for p in vocab.PLATFORMS]
    out += [Filters(sizes=(z,)) for z in vocab.COMPANY_SIZES]
    out += [Filters(countries=(c,)) for c in countries]
    out += [Filters(stages=pair) for pair in itertools.combinations(vocab.STAGES, 2)]
    if full:
        out += [Filters(countries=pair) for pair in itertools.combinations(countries, 2)]
        out += [Filters(stages=(s,), countries=(c,)) for s in vocab.STAGES for c in countries]
    return out


def _subset(small: Filters, large: Filters) -> bool:
    """Whether every site ``small`` selects is selected by ``large`` (empty = all)."""
    for a, b in (
        (small.stages, large.stages),
        (small.bottlenecks, large.bottlenecks),
        (small.platforms, large.platforms),
        (small.countries, large.countries),
        (small.sizes, large.sizes),
    ):
        if b and (not a or not set(a) <= set(b)):
            return False
    return small != large


def _published(result: Release, cells: cells_mod.Cells, metric: str) -> np.ndarray:
    """The figure released for each cell (NaN where withheld), in the order of ``cells``."""
    out = np.full(len(cells), np.nan)
    total = result.totals.get(metric)
    out[0] = np.nan if total is None else total
    for level in vocab.NUTS_LEVELS:
        at = np.flatnonzero(cells.level == level)
        table = result.table(level)
        out[at] = table[metric].reindex(cells.codes[at]).to_numpy(float)
    return out


def _lower(metric: str, cells: cells_mod.Cells) -> np.ndarray:
    if metric == "facilities":
        return (cells.values["companies"] > 0).astype(float)
    return np.zeros(len(cells))


def lp_intervals(
    values: np.ndarray, lower: np.ndarray, withheld: np.ndarray, equations: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Tightest interval of every withheld cell by linear programming (HiGHS), published cells
    taken as exact; one small programme per connected group of withheld cells."""
    low = np.where(withheld, np.nan, values).astype(float)
    high = low.copy()
    parent = list(range(len(values)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    active = [eq for eq in equations if withheld[eq].any()]
    for eq in active:
        members = eq[withheld[eq]]
        for other in members[1:]:
            parent[find(int(other))] = find(int(members[0]))
    groups: dict[int, list[int]] = {}
    for i in np.flatnonzero(withheld):
        groups.setdefault(find(int(i)), []).append(int(i))
    for cells_in in groups.values():
        position = {c: j for j, c in enumerate(cells_in)}
        rows, rhs = [], []
        for eq in active:
            if not any(int(c) in position for c in eq):
                continue
            row = np.zeros(len(cells_in))
            constant = 0.0
            for j, c in enumerate(eq):
                sign = -1.0 if j == 0 else 1.0
                if int(c) in position:
                    row[position[int(c)]] += sign
                else:
                    constant += sign * values[c]
            rows.append(row)
            rhs.append(-constant)
        a_eq = np.array(rows) if rows else None
        b_eq = np.array(rhs) if rows else None
        bounds = [(float(lower[c]), None) for c in cells_in]
        for j, c in enumerate(cells_in):
            objective = np.zeros(len(cells_in))
            objective[j] = 1.0
            lo = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
            hi = linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
            low[c] = lo.fun if lo.status == 0 else lower[c]
            high[c] = -hi.fun if hi.status == 0 else np.inf
    return low, high


def audit(
    index: SiteIndex,
    rules: Rules,
    site_keys: Mapping[str, np.ndarray],
    *,
    role: str = "cluster",
    all_settings: Sequence[Filters] | None = None,
    full: bool = True,
) -> Report:
    """Attack every setting of ``all_settings`` (default: :func:`settings`) as ``role`` sees it."""
    chosen = list(all_settings) if all_settings is not None else settings(index, full=full)
    report = Report(settings=len(chosen))
    releases: dict[Filters, tuple[Release, cells_mod.Cells, dict[str, tuple[np.ndarray, np.ndarray]]]] = {}
    for filters in chosen:
        result = release(index, filters, role, rules, site_keys)
        cells = cells_mod.build(index, filters, dict(site_keys))
        _attack_setting(report, filters, result, cells, rules)
        share = rules.noise_percent / 100.0
        noisy = {m: _published_interval(result, cells, m, share, rules) for m in ADDITIVE}
        releases[filters] = (result, cells, noisy)
    _attack_differences(report, index, releases, rules, dict(site_keys))
    return report


def _attack_setting(
    report: Report, filters: Filters, result: Release, cells: cells_mod.Cells, rules: Rules
) -> None:
    name = filters.describe()
    equations = cells.equations()
    rules_hit = primary(cells, rules)
    for metric in (*ADDITIVE, "companies"):
        shown = _published(result, cells, metric)
        values = cells.values[metric]
        guarded = rules_hit.protected(metric) & (values > 0)
        need = protection(metric, values, rules)
        for i in np.flatnonzero(guarded & ~np.isnan(shown)):
            report.findings.append(
                Finding("direct", name, str(cells.codes[i]), metric, values[i], shown[i], shown[i], need[i])
            )
        if metric == "companies":
            continue
        withheld = np.isnan(shown)
        if metric in MAGNITUDES or not rules.count_noise:
            low, high = lp_intervals(values, _lower(metric, cells), withheld, equations)
            attack = "linear programming"
        else:  # published counts are known to within their noise bound only
            low, high = _published_interval(result, cells, metric, rules.noise_percent / 100.0, rules)
            attack = "sums of noisy counts"
        for i in np.flatnonzero(guarded & withheld):
            report.findings.append(
                Finding(
                    attack,
                    name,
                    str(cells.codes[i]),
                    metric,
                    values[i],
                    low[i],
                    high[i],
                    need[i],
                )
            )


def _attack_differences(
    report: Report,
    index: SiteIndex,
    releases: Mapping[Filters, tuple[Release, cells_mod.Cells, dict[str, tuple[np.ndarray, np.ndarray]]]],
    rules: Rules,
    site_keys: dict[str, np.ndarray],
) -> None:
    for small, large in itertools.permutations(releases, 2):
        if not _subset(small, large):
            continue
        _result, c_small, i_small = releases[small]
        i_large = releases[large][2]
        keep = cells_mod.selected(index, large) & ~cells_mod.selected(index, small)
        if not keep.any():
            continue
        diff = cells_mod.build(index, large, site_keys, keep=keep)
        where_small = c_small.position()
        name = f"({large.describe()}) minus ({small.describe()})"
        rules_hit = primary(diff, rules)
        for metric in ADDITIVE:
            guarded = rules_hit.protected(metric) & (diff.values[metric] > 0)
            need = protection(metric, diff.values[metric], rules)
            low_l, high_l = i_large[metric]
            low_s, high_s = i_small[metric]
            for i in np.flatnonzero(guarded):
                j = where_small.get(str(diff.codes[i]))
                k = i  # diff cells are laid out as the large setting's
                lo_s, hi_s = (low_s[j], high_s[j]) if j is not None else (0.0, 0.0)
                low = max(low_l[k] - hi_s, 0.0)
                high = high_l[k] - lo_s
                report.findings.append(
                    Finding(
                        "differencing",
                        name,
                        str(diff.codes[i]),
                        metric,
                        diff.values[metric][i],
                        low,
                        high,
                        need[i],
                    )
                )


def _published_interval(
    result: Release,
    cells: cells_mod.Cells,
    metric: str,
    share: float,
    rules: Rules,
) -> tuple[np.ndarray, np.ndarray]:
    """What an attacker knows of each cell's true value from one setting: every published figure
    plus or minus the largest noise it may carry, combined through the hierarchy's sums (interval
    propagation, which on this tree of sums equals linear programming; see the tests)."""
    shown = _published(result, cells, metric)
    bound = (
        share * cells.top1[metric] if metric in MAGNITUDES else np.full(len(cells), float(rules.count_noise))
    )
    published = ~np.isnan(shown)
    lower = _lower(metric, cells)
    low0 = np.where(published, np.maximum(shown - bound, 0.0), lower)
    high0 = np.where(published, shown + bound, np.inf)
    return secondary.bounded_intervals(low0, high0, np.ones(len(cells), dtype=bool), cells.equations())


def adversarial_settings(codes: Iterable[str]) -> list[Filters]:
    """Single-stage settings plus the stage pairs of ``codes`` (for small hand-made fixtures)."""
    codes = list(codes)
    return [
        Filters(),
        *(Filters(stages=(c,)) for c in codes),
        *(Filters(stages=p) for p in itertools.combinations(codes, 2)),
    ]


def run(
    path: str,
    *,
    role: str = "cluster",
    version: int = 2021,
    full: bool = True,
    show: int = 20,
    every: bool = False,
    rules: Rules | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """``python -m geodata audit-disclosure DATA``: attack ``role``'s view of the file at ``path``;
    prints every protected figure pinned down too closely (up to ``show`` of them; with ``every``,
    every protected figure with the tightest interval any attack gave), the tightest interval per
    metric and a summary; returns 1 when any figure is pinned down too closely, else 0."""
    from geodata import placement, records

    rules = rules or Rules.from_env()
    table = records.load_facilities(path)
    placed = placement.place(table.facilities, version, "20M", 10.0)
    index = SiteIndex.from_placed(placed)
    keys = cells_mod.record_keys(index.facility_id, rules.key)
    report = audit(index, rules, keys, role=role, full=full)
    out(f"audit of what role '{role}' sees of {path} (NUTS {version}, {index.n} placed sites)")
    out(
        f"rules: at least {rules.min_companies} companies, p% rule p={rules.p_percent:g}, "
        f"protection ±{rules.protection_percent:g}%, noise {rules.noise_percent:g}% of the largest "
        f"company, counts ±{rules.count_noise}"
    )
    if every:
        for finding in sorted(report.per_cell(), key=lambda f: (f.setting, f.cell, f.metric)):
            out(str(finding))
    else:
        for finding in report.failures[:show]:
            out(str(finding))
        if len(report.failures) > show:
            out(f"... and {len(report.failures) - show} more")
    out(report.summary())
    cells = report.per_cell()
    pinned = sum(not f.safe for f in cells)
    attacks = len(report.findings)
    out(f"{len(cells)} protected figures in all ({attacks} attacks); {pinned} pinned down too closely")
    return 1 if report.failures else 0


__all__ = ["Finding", "Report", "adversarial_settings", "audit", "lp_intervals", "run", "settings"]
