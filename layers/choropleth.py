"""Choropleth builders: per-region classes and colours, legend entries, hover text.

Input is the aggregated table (geodata.aggregate) and the region order of the geometry the
browser already holds; output is small: one class number per region and a colour list, so a
filter change never re-sends shapes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from plotly.colors import colorbrewer

from geodata import vocab
from geodata.disclosure import reason_text, withheld_column
from layers.classify import Classes, classify

#: ColorBrewer YlGnBu: sequential and colour-blind safe; the lightest step is kept for zero.
SEQUENTIAL = list(colorbrewer.YlGnBu)
ZERO_COLOUR = "#ffffff"
NO_DATA_COLOUR = "#e4e4e4"
WITHHELD_COLOUR = "#b8b8b8"
ZERO_CLASS, NO_DATA_CLASS, WITHHELD_CLASS = -1, -2, -3
INTEGER_METRICS = frozenset({"facilities", "companies", "bottleneck_reports"})
#: Units of the whole-number metrics for a count of one.
SINGULAR = {"sites": "site", "companies": "company", "sites reporting": "site reporting"}


def palette(k: int) -> list[str]:
    """``k`` colours from light to dark, skipping the palette's near-white first step."""
    if not 1 <= k <= len(SEQUENTIAL) - 1:
        raise ValueError(f"k must be between 1 and {len(SEQUENTIAL) - 1}; got {k}")
    steps = np.linspace(1, len(SEQUENTIAL) - 1, k).round().astype(int) if k > 1 else [5]
    return [SEQUENTIAL[i] for i in steps]


def format_value(metric: str, value: float | None) -> str:
    """A metric value for people: '1,234 sites', '12.5 M doses/month', '1.35 (LQ, 1 = average)'."""
    if metric not in vocab.METRICS:
        raise ValueError(f"unknown metric {metric!r}; allowed: {', '.join(vocab.METRICS)}")
    unit = vocab.METRICS[metric][1]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no data"
    if metric in INTEGER_METRICS:
        count = round(value)
        return f"{count:,} {SINGULAR.get(unit, unit) if count == 1 else unit}"
    if metric == "specialisation":
        return f"{value:.2f} ({unit})"
    return f"{short_number(value)} {unit}"


def short_number(value: float) -> str:
    """3 significant digits with k / M / bn: 1.41 M (rounded first, so 999,999 is 1 M)."""
    rounded = float(f"{value:.3g}")
    for size, suffix in ((1e9, " bn"), (1e6, " M"), (1e3, " k")):
        if abs(rounded) >= size:
            return f"{rounded / size:.3g}{suffix}"
    return f"{rounded:.3g}"


@dataclass(frozen=True)
class LegendEntry:
    colour: str
    label: str
    count: int
    kind: str  # 'class', 'zero', 'withheld', 'no_data'


@dataclass(frozen=True)
class Choropleth:
    """What the browser needs to colour the regions it holds, and the legend."""

    classes: list[int]  # one per region, in the geometry's order
    colours: list[str]  # colour of class 0..k-1
    legend: list[LegendEntry]

    def payload(self, key: str) -> dict[str, object]:
        """The compact payload the browser restyles the regions with (key names the geometry)."""
        return {"key": key, "cls": self.classes, "colors": self.colours}


def build(
    table: pd.DataFrame,
    regions: Sequence[str],
    metric: str,
    scheme: str = "quantiles",
    k: int = 5,
    withhold: bool = True,
) -> Choropleth:
    """Classes and colours for ``metric`` of ``table`` (geodata.aggregate) over ``regions``.

    Regions absent from the table have no data; with ``withhold`` (public audience), regions
    whose value is withheld (NaN while the table gives a reason) are 'withheld'; zero is its
    own class.
    """
    if metric not in vocab.METRICS:
        raise ValueError(f"unknown metric {metric!r}; allowed: {', '.join(vocab.METRICS)}")
    order = pd.Index(list(regions))
    values = table[metric].reindex(order).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    reasons = table[withheld_column(metric)].reindex(order).fillna("").to_numpy(dtype=str)
    withheld = np.isnan(values) & (reasons != "") & withhold
    result = classify(values, scheme, k)
    klass = result.klass.astype(int)
    klass[withheld] = WITHHELD_CLASS
    colours = palette(result.k) if result.k else []
    return Choropleth(klass.tolist(), colours, _legend(result, klass, colours, metric))


def _legend(result: Classes, klass: np.ndarray, colours: list[str], metric: str) -> list[LegendEntry]:
    entries = []
    lower = result.lower
    for i, (upper, colour) in enumerate(zip(result.bins, colours, strict=True)):
        if i and metric in INTEGER_METRICS:
            lower = math.floor(lower) + 1  # classes hold (previous bound, bound]: whole numbers
        low_text = _range_number(metric, lower)
        # whole-number metrics: a class up to 37.67 holds 37 at most, the next starts at 38
        high_text = _range_number(metric, math.floor(upper) if metric in INTEGER_METRICS else upper)
        text = high_text if low_text == high_text else f"{low_text} – {high_text}"
        entries.append(LegendEntry(colour, text, int((klass == i).sum()), "class"))
        lower = upper
    entries.append(LegendEntry(ZERO_COLOUR, "0 (none matching)", int((klass == ZERO_CLASS).sum()), "zero"))
    entries.append(
        LegendEntry(
            WITHHELD_COLOUR, "withheld (confidential)", int((klass == WITHHELD_CLASS).sum()), "withheld"
        )
    )
    entries.append(LegendEntry(NO_DATA_COLOUR, "no data", int((klass == NO_DATA_CLASS).sum()), "no_data"))
    return entries


def _range_number(metric: str, value: float) -> str:
    if metric in INTEGER_METRICS:
        return f"{round(value):,}"
    if metric == "specialisation":
        return f"{value:.2f}"
    return short_number(value)


def hover_lines(
    code: str, name: str, metric: str, row: pd.Series | None, stage_filter: bool = True
) -> list[str]:
    """Hover text for one region: name and code, metric value with unit, site count, why withheld."""
    lines = [f"{name} ({code})"]
    if row is None:
        return [*lines, "no data: no survey answers from this region's country"]
    value = row.get(metric)
    reason = reason_text(str(row.get(withheld_column(metric), "") or ""))
    label = vocab.METRICS[metric][0]
    if metric == "specialisation" and not stage_filter:
        lines.append(f"{label}: select a production stage")
    elif reason and (value is None or pd.isna(value)):
        lines.append(f"{label}: withheld ({reason})")
    else:
        lines.append(f"{label}: {format_value(metric, value)}")
        if reason:  # an official sees the figure; say that other roles do not
            lines.append(f"Not shown to other roles ({reason.removeprefix('confidential: ')})")
    sites = row.get("facilities")
    if metric == "facilities":
        return lines
    if sites is None or pd.isna(sites):
        lines.append("Sites: withheld")
    else:
        lines.append(f"Sites: {int(sites):,}")
    return lines


# --- change between two rounds ------------------------------------------------------------------

#: ColorBrewer PuOr: diverging and colour-blind safe; orange for a fall, purple for a rise.
DIVERGING = list(colorbrewer.PuOr)
#: Metrics a comparison of rounds covers (a difference of counts or of doses means something;
#: a difference of location quotients or of bottleneck reports per site less so).
CHANGE_METRICS: tuple[str, ...] = ("facilities", "companies", "capacity", "available_capacity")


def change_table(current: pd.DataFrame, earlier: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per region: ``metric`` of ``current`` minus that of ``earlier`` (two releases of the same
    level), withheld where either side is, with the reason of the side(s) that withhold it.

    Columns: the metric (the change) and its withheld column, indexed like ``current``.
    """
    if metric not in CHANGE_METRICS:
        raise ValueError(f"a comparison covers {', '.join(CHANGE_METRICS)}; got {metric!r}")
    reason = withheld_column(metric)
    index = current.index.union(earlier.index)
    now = current[metric].reindex(index).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    then = earlier[metric].reindex(index).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    why_now = current[reason].reindex(index).fillna("").astype(str)
    why_then = earlier[reason].reindex(index).fillna("").astype(str)
    change = now - then
    either = [a or b for a, b in zip(why_now, why_then, strict=True)]
    return pd.DataFrame({metric: change, reason: either}, index=index).reindex(current.index)


def build_change(
    table: pd.DataFrame, regions: Sequence[str], metric: str, k: int = 5, withhold: bool = True
) -> Choropleth:
    """Classes of a change (``change_table``) on a diverging scale: ``k`` classes split between
    falls and rises by quantiles of the size of the change, no change white, withheld grey."""
    order = pd.Index(list(regions))
    values = table[metric].reindex(order).to_numpy(dtype=float, na_value=np.nan)
    reasons = table[withheld_column(metric)].reindex(order).fillna("").to_numpy(dtype=str)
    withheld = np.isnan(values) & (reasons != "") & withhold
    side = max(1, (k + 1) // 2)
    size = np.abs(values[np.isfinite(values) & (values != 0)])
    if size.size:
        bins = np.unique(np.quantile(size, np.linspace(0, 1, side + 1)[1:]))
    else:
        bins = np.array([], dtype=float)
    m = len(bins)
    klass = np.full(len(values), NO_DATA_CLASS, dtype=int)
    klass[values == 0] = ZERO_CLASS
    for sign in (-1, 1):
        chosen = np.isfinite(values) & (np.sign(values) == sign)
        step = np.searchsorted(bins, np.abs(values[chosen]), side="left").clip(0, m - 1) if m else 0
        # falls are classes m-1 (largest fall) .. 0; rises m .. 2m-1 (largest rise)
        klass[chosen] = (m - 1 - step) if sign < 0 else (m + step)
    klass[withheld] = WITHHELD_CLASS
    colours = _diverging(m)
    entries = []
    for i in range(2 * m):
        j = (m - 1 - i) if i < m else (i - m)
        low = 0.0 if j == 0 else float(bins[j - 1])
        high = float(bins[j])
        low_text, high_text = _range_number(metric, low), _range_number(metric, high)
        mark = "−" if i < m else "+"
        if j == 0:
            text = f"up to {mark}{high_text}"
        elif low_text == high_text:
            text = f"{mark}{high_text}"
        elif i < m:  # falls read from the larger fall: −40 – −30
            text = f"−{high_text} – −{low_text}"
        else:
            text = f"+{low_text} – +{high_text}"
        entries.append(LegendEntry(colours[i], text, int((klass == i).sum()), "class"))
    entries.append(LegendEntry(ZERO_COLOUR, "no change", int((klass == ZERO_CLASS).sum()), "zero"))
    entries.append(
        LegendEntry(
            WITHHELD_COLOUR, "withheld in either round (confidential)", int((klass == WITHHELD_CLASS).sum()),
            "withheld",
        )
    )  # fmt: skip
    entries.append(LegendEntry(NO_DATA_COLOUR, "no data", int((klass == NO_DATA_CLASS).sum()), "no_data"))
    return Choropleth(klass.tolist(), colours, entries)


def _diverging(m: int) -> list[str]:
    """``2m`` colours: ``m`` falls from strongest to lightest, then ``m`` rises lightest to strongest
    (the palette's middle, near-white step is left for no change)."""
    if m == 0:
        return []
    middle = len(DIVERGING) // 2
    steps = np.linspace(1, middle, m).round().astype(int)  # 1..middle away from the centre
    falls = [DIVERGING[middle - s] for s in sorted(steps, reverse=True)]
    rises = [DIVERGING[middle + s] for s in steps]
    return falls + rises


def change_lines(name: str, code: str, metric: str, row: pd.Series | None, earlier: str) -> list[str]:
    """Hover text for one region's change since round ``earlier``."""
    label = vocab.METRICS[metric][0]
    lines = [f"{name} ({code})"]
    if row is None:
        return [*lines, "no data"]
    value = row.get(metric)
    reason = reason_text(str(row.get(withheld_column(metric), "") or ""))
    if value is None or pd.isna(value):
        return [*lines, f"{label}, change since {earlier}: withheld ({reason or 'confidential'})"]
    unit = vocab.METRICS[metric][1]
    if metric in INTEGER_METRICS:
        number = f"{round(value):+,}"
    else:
        number = f"{'+' if value >= 0 else '−'}{short_number(abs(value))}"
    lines.append(f"{label}, change since {earlier}: {number} {unit}")
    if reason:
        lines.append(f"Not shown to other roles ({reason.removeprefix('confidential: ')})")
    return lines
