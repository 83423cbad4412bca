"""Secondary suppression over one hierarchy of linked cells, and the interval an attacker gets.

The complementary cells are chosen by a mixed-integer programme solved with HiGHS (through
``scipy.optimize.milp``; HiGHS is a maintained, exact open-source MIP solver that ships with
SciPy, so there is nothing else to install): for every equation of the hierarchy (a parent and
its children) and every withheld cell in it, the other withheld cells of that equation must be
able to absorb the cell's protection level; the cost prefers few, small, low-level cells, so
that countries and the total stay visible wherever possible. The pattern is then checked by
computing, for every withheld cell, the exact interval an attacker gets from the published
cells (interval propagation, exact on a tree of sum equations); a primary cell whose interval
is still too narrow asks for more protection around it and the programme is solved again.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

LOG = logging.getLogger(__name__)
#: cost of withholding one cell, by level (-1 is the total): headline figures are expensive.
LEVEL_COST = {-1: 1000.0, 0: 60.0, 1: 8.0, 2: 3.0, 3: 1.0}
MAX_ROUNDS = 6


def intervals(
    values: np.ndarray, lower: np.ndarray, withheld: np.ndarray, equations: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Tightest [low, high] of every cell given the published (not withheld) cells exactly.

    Published cells get their value as both bounds; withheld cells start at [lower, inf) and are
    narrowed by each equation (parent = sum of children) until nothing changes. On a tree of sum
    equations this is exact: the tests check it against linear programming.
    """
    return bounded_intervals(
        np.where(withheld, lower, values), np.where(withheld, np.inf, values), withheld, equations
    )


def bounded_intervals(
    low0: np.ndarray, high0: np.ndarray, unknown: np.ndarray, equations: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Tightest [low, high] of every cell given a starting interval for each (e.g. a published,
    perturbed figure plus or minus its largest noise) and the hierarchy's sums; ``unknown`` marks
    the cells whose interval may be narrowed (the others keep theirs)."""
    low = [float(x) for x in low0]
    high = [float(x) for x in high0]
    hidden = unknown.tolist()
    withheld = unknown
    active = [[int(c) for c in eq] for eq in equations if withheld[eq].any()]
    for _ in range(500):
        changed = False
        for eq in active:
            parent, children = eq[0], eq[1:]
            # parent = sum(children): bounds of each side from the other
            c_lo = math.fsum(low[c] for c in children)
            c_hi = sum(high[c] for c in children)
            if hidden[parent]:
                changed |= _narrow(low, high, parent, c_lo, c_hi)
            for c in children:
                if not hidden[c]:
                    continue
                rest_lo = c_lo - low[c]
                rest_hi = _minus(c_hi, high[c])
                new_lo = low[parent] - rest_hi if math.isfinite(rest_hi) else -math.inf
                new_hi = high[parent] - rest_lo
                if _narrow(low, high, c, new_lo, new_hi):
                    changed = True
                    c_lo = math.fsum(low[x] for x in children)
                    c_hi = sum(high[x] for x in children)
        if not changed:
            break
    return np.array(low), np.array(high)


def _minus(total: float, part: float) -> float:
    """total - part where both may be inf (an infinite part leaves the rest unknown: inf)."""
    if math.isinf(part):
        return math.inf
    return total - part


def _narrow(low: list[float], high: list[float], cell: int, new_lo: float, new_hi: float) -> bool:
    changed = False
    if new_lo > low[cell] + 1e-9 * max(1.0, abs(new_lo)):
        low[cell] = new_lo
        changed = True
    if new_hi < high[cell] - 1e-9 * max(1.0, abs(new_hi)):
        high[cell] = new_hi
        changed = True
    return changed


def protection_levels(values: np.ndarray, ratio: float, unit: float) -> np.ndarray:
    """Width an attacker's interval must keep: ``ratio`` of the value on each side, at least ``unit``.

    A zero needs no protection: it holds no contributor's figure (a region whose companies
    report no capacity), and the zero of its parent says as much for all of them."""
    return np.where(values > 0, np.maximum(2.0 * ratio * values, unit), 0.0)


def suppress(
    values: np.ndarray,
    lower: np.ndarray,
    level: np.ndarray,
    primary: np.ndarray,
    equations: list[np.ndarray],
    protection: np.ndarray,
    unit: float,
    published: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Cells to withhold (primary plus complementary) so that every primary keeps its protection.

    ``values`` are true, non-negative; ``lower`` what an attacker knows of a withheld cell's least
    value (1 site for a withheld site count: withheld means someone is there); ``protection``
    the interval width each primary must keep. Cells with no room above that least value
    (zeros, single sites) are never used as complements: they would hide nothing.
    ``published``: what an attacker knows of each published cell, as (low, high) (a perturbed
    figure plus or minus its largest noise); by default its exact value.
    """
    primary = primary.astype(bool)
    if not primary.any():
        return primary.copy()

    def intervals_of(withheld: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if published is None:
            return intervals(values, lower, withheld, equations)
        low0 = np.where(withheld, lower, published[0])
        high0 = np.where(withheld, np.inf, published[1])
        return bounded_intervals(low0, high0, np.ones(len(values), dtype=bool), equations)

    slack = np.maximum(values - lower, 0.0)
    candidate = ~primary & (slack > 0)
    if published is not None:
        # perturbed figures: the total's noise already hides a unit or more, and withholding the
        # headline figure to protect one small cell is never worth it; the check below still
        # decides (and the fallback may withhold it if nothing else protects a cell)
        candidate &= level >= 0
    need = np.where(primary, protection, unit).astype(float)
    withheld = primary.copy()
    for _round in range(MAX_ROUNDS):
        withheld = _solve(slack, level, primary, candidate, equations, need)
        low, high = intervals_of(withheld)
        failing = primary & ((high - low) < protection - 1e-9)
        if not failing.any():
            return withheld
        for eq in equations:
            if not failing[eq].any():
                continue
            worst = float(protection[eq][failing[eq]].max())
            helpers = eq[withheld[eq] & ~primary[eq]]
            need[helpers] = np.maximum(need[helpers], worst)
            need[eq[failing[eq]]] += worst
    # still failing after the rounds: first withhold the failing cells' siblings (an equation's
    # children, the parent kept: this hides a child's share without touching the higher levels)
    for eq in equations:
        children = eq[1:]
        if failing[children].any():
            withheld[children[values[children] > 0]] = True
    low, high = intervals_of(withheld)
    failing = primary & ((high - low) < protection - 1e-9)
    if not failing.any():
        LOG.info("secondary suppression withheld siblings of %d primary cells", int(failing.sum()))
        return withheld
    # then every cell of the equations around the failures, one equation further each time,
    # until the check passes (at worst all is withheld, which is safe)
    frontier = failing.copy()
    for _round in range(len(equations) + 1):
        grown = frontier.copy()
        for eq in equations:
            if frontier[eq].any():
                withheld[eq[values[eq] > 0]] = True
                grown[eq] = True
        frontier = grown
        low, high = intervals_of(withheld)
        if not (primary & ((high - low) < protection - 1e-9)).any():
            break
    LOG.info("secondary suppression used the fallback around %d primary cells", int(failing.sum()))
    return withheld


def _solve(
    values: np.ndarray,
    level: np.ndarray,
    primary: np.ndarray,
    candidate: np.ndarray,
    equations: list[np.ndarray],
    need: np.ndarray,
) -> np.ndarray:
    """One mixed-integer programme: the cheapest complements meeting every cell's need.

    ``values`` here are the cells' slack (value minus what an attacker knows as its least value):
    how far a withheld cell lets the others of its equation move."""
    var_of = np.full(len(values), -1, dtype=np.int64)
    cand = np.flatnonzero(candidate)
    var_of[cand] = np.arange(len(cand))
    total = float(values[0]) if len(values) else 1.0
    cost = np.array([LEVEL_COST.get(int(level[c]), 1.0) for c in cand]) * (1.0 + values[cand] / (total + 1.0))
    n = len(cand)
    rows: list[int] = []
    cols: list[int] = []
    data: list[float] = []
    rhs: list[float] = []
    elastic: list[int] = []  # rows of primaries: may fall short, at a high price (left to the check)
    for eq in equations:
        # a parent whose children are all withheld is not pinned by this equation: its children
        # may each be larger than their least value (their own equations bound them; the check
        # after the programme sees to it), so such a row would only forbid a useful complement
        open_parent = bool(primary[eq[1:]].all())
        for c in eq[primary[eq] | candidate[eq]]:
            if open_parent and c == eq[0]:
                continue
            fixed = float(values[eq][primary[eq] & (eq != c)].sum())
            if fixed >= need[c]:
                continue
            others = eq[candidate[eq] & (eq != c)]
            r = len(rhs)
            rows.extend([r] * len(others))
            cols.extend(var_of[others].tolist())
            data.extend(values[others].tolist())
            if primary[c]:
                rhs.append(need[c] - fixed)
                elastic.append(r)
            else:
                rows.append(r)
                cols.append(int(var_of[c]))
                data.append(-(need[c] - fixed))
                rhs.append(0.0)
    if not n or not rhs:
        return primary.copy()
    # one shortfall variable per primary row, priced above any set of complements
    rows.extend(elastic)
    cols.extend(range(n, n + len(elastic)))
    data.extend([1.0] * len(elastic))
    shortfall_cost = np.full(len(elastic), 1e3 * (1.0 + cost.sum()) / max(float(need.max()), 1.0))
    matrix = coo_matrix((data, (rows, cols)), shape=(len(rhs), n + len(elastic))).tocsr()
    result = milp(
        np.concatenate([cost, shortfall_cost]),
        constraints=LinearConstraint(matrix, lb=np.array(rhs), ub=np.inf),
        integrality=np.concatenate([np.ones(n), np.zeros(len(elastic))]),
        bounds=Bounds(0, np.concatenate([np.ones(n), np.full(len(elastic), np.inf)])),
        # no time limit: a limit hit under load would make the pattern depend on the machine's
        # speed, and two workers could then give two different answers to the same request
        options={"mip_rel_gap": 0.02},
    )
    withheld = primary.copy()
    if result.x is None:
        LOG.warning(
            "secondary suppression: HiGHS found no pattern (%s); withholding all candidates", result.message
        )
        withheld[cand] = True
        return withheld
    withheld[cand[np.asarray(result.x)[:n] > 0.5]] = True
    return withheld
