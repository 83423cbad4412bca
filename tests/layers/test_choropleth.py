"""Choropleth builders on hand-made tables: palette, value formats, classes, legend, hover text."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest
from plotly.colors import colorbrewer

from geodata import vocab
from geodata.disclosure import reason_text, withheld_column
from layers import choropleth
from layers.choropleth import LegendEntry, build, format_value, hover_lines, palette

NAN = np.nan
#: reason codes of the disclosure engine (geodata.disclosure.rules.REASONS), written out
FEW, DOMINANT, SECONDARY, DERIVED = "few", "dominant", "secondary", "derived"
#: ColorBrewer YlGnBu, 9 classes (colorbrewer2.org), light to dark
YLGNBU_9 = [
    "#ffffd9",
    "#edf8b1",
    "#c7e9b4",
    "#7fcdbb",
    "#41b6c4",
    "#1d91c0",
    "#225ea8",
    "#253494",
    "#081d58",
]


def rgb(colour: str) -> tuple[int, int, int]:
    if colour.startswith("#"):
        return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return tuple(int(part) for part in re.findall(r"\d+", colour))


def luminance(colour: str) -> float:
    r, g, b = (c / 255 for c in rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


SEQ = [f"rgb{rgb(c)}".replace(" ", "") for c in YLGNBU_9]


# --- palette --------------------------------------------------------------------------------


def test_sequential_palette_is_colorbrewer_ylgnbu() -> None:
    assert list(colorbrewer.YlGnBu) == choropleth.SEQUENTIAL
    assert [rgb(c) for c in choropleth.SEQUENTIAL] == [rgb(c) for c in YLGNBU_9]


@pytest.mark.parametrize("k", range(1, 9))
def test_palette_has_k_distinct_colours_light_to_dark(k: int) -> None:
    colours = palette(k)
    assert len(colours) == k
    assert len(set(colours)) == k
    assert all(c in choropleth.SEQUENTIAL[1:] for c in colours)  # near-white first step skipped
    positions = [choropleth.SEQUENTIAL.index(c) for c in colours]
    assert positions == sorted(positions)
    shades = [luminance(c) for c in colours]
    assert shades == sorted(shades, reverse=True)


def test_palette_steps() -> None:
    assert palette(1) == [SEQ[5]]
    assert palette(3) == [SEQ[1], SEQ[4], SEQ[8]]
    assert palette(5) == [SEQ[1], SEQ[3], SEQ[4], SEQ[6], SEQ[8]]
    assert palette(8) == SEQ[1:]


@pytest.mark.parametrize("k", [0, -1, 9])
def test_palette_rejects_k_outside_one_to_eight(k: int) -> None:
    with pytest.raises(ValueError, match=rf"k must be between 1 and 8; got {k}"):
        palette(k)


# --- format_value ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "value", "text"),
    [
        ("facilities", 0, "0 sites"),
        ("facilities", 1234, "1,234 sites"),
        ("facilities", 1234567.0, "1,234,567 sites"),
        ("companies", 3.0, "3 companies"),
        ("bottleneck_reports", 12, "12 sites reporting"),
        ("capacity", 0, "0 doses/month"),
        ("capacity", 950, "950 doses/month"),
        ("capacity", 1000, "1 k doses/month"),
        ("capacity", 1234, "1.23 k doses/month"),
        ("capacity", 12_500_000, "12.5 M doses/month"),
        ("available_capacity", 2_500_000_000, "2.5 bn doses/month"),
        ("available_capacity", 45_600.0, "45.6 k doses/month"),
        ("specialisation", 1.349, "1.35 (LQ, 1 = average)"),
        ("specialisation", 1, "1.00 (LQ, 1 = average)"),
        ("specialisation", 0.0, "0.00 (LQ, 1 = average)"),
    ],
)
def test_format_value(metric: str, value: float, text: str) -> None:
    assert format_value(metric, value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(999_999, "1 M doses/month"), (999.7, "1 k doses/month"), (999_499, "999 k doses/month")],
)
def test_format_value_rounds_before_choosing_the_suffix(value: float, text: str) -> None:
    assert format_value("capacity", value) == text


@pytest.mark.parametrize("metric", list(vocab.METRICS))
@pytest.mark.parametrize("missing", [None, NAN, np.float64("nan")])
def test_missing_values_read_no_data(metric: str, missing: float | None) -> None:
    assert format_value(metric, missing) == "no data"


def test_unknown_metric_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown metric 'doses'; allowed: facilities, companies, capacity"):
        format_value("doses", 1.0)


# --- build ----------------------------------------------------------------------------------


def table(**columns: list) -> pd.DataFrame:
    """A released table (geodata.disclosure's columns: the metrics and ``<metric>_withheld``
    reason codes, '' when shown) for regions R1.. with given columns."""
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame(
        {metric: np.zeros(n) for metric in vocab.METRICS},
        index=pd.Index([f"R{i + 1}" for i in range(n)], name="nuts3"),
    )
    for metric in vocab.METRICS:
        frame[withheld_column(metric)] = ""
    for name, values in columns.items():
        frame[name] = values
    return frame


def mixed_table() -> pd.DataFrame:
    """R1..R3 small counts, R4 zero, R5 withheld (cluster), R6 ten sites; R3's capacity withheld."""
    return table(
        facilities=[1, 2, 3, 0, NAN, 10],
        capacity=[1000, 2000, NAN, 0, NAN, 10_000],
        facilities_withheld=["", "", "", "", FEW, ""],
        capacity_withheld=["", "", DOMINANT, "", FEW, ""],
    )


ORDER = ["R5", "R1", "R2", "R3", "R4", "R6", "RX"]  # not the table's order; RX is not in the table


def test_build_classes_follow_the_given_region_order() -> None:
    result = build(mixed_table(), ORDER, "facilities", "equal_interval", 3)
    # positive values 1, 2, 3, 10 -> bins 4, 7, 10; R4 zero; R5 withheld; RX no data
    assert result.classes == [-3, 0, 0, 0, -1, 2, -2]
    assert result.colours == palette(3)


def test_build_legend_for_whole_numbers() -> None:
    result = build(mixed_table(), ORDER, "facilities", "equal_interval", 3)
    c = result.colours
    assert result.legend == [
        LegendEntry(c[0], "1 – 4", 3, "class"),
        LegendEntry(c[1], "5 – 7", 0, "class"),
        LegendEntry(c[2], "8 – 10", 1, "class"),
        LegendEntry(choropleth.ZERO_COLOUR, "0 (none matching)", 1, "zero"),
        LegendEntry(choropleth.WITHHELD_COLOUR, "withheld (confidential)", 1, "withheld"),
        LegendEntry(choropleth.NO_DATA_COLOUR, "no data", 1, "no_data"),
    ]


def test_capacity_uses_the_capacity_reason() -> None:
    result = build(mixed_table(), ORDER, "capacity", "equal_interval", 3)
    # positive 1000, 2000, 10000 -> bins 4000, 7000, 10000; R3 withheld by the dominance rule
    assert result.classes == [-3, 0, 0, -3, -1, 2, -2]
    labels = [(e.label, e.count) for e in result.legend]
    assert labels == [
        ("1 k – 4 k", 2),
        ("4 k – 7 k", 0),
        ("7 k – 10 k", 1),
        ("0 (none matching)", 1),
        ("withheld (confidential)", 2),
        ("no data", 1),
    ]


def test_missing_value_without_a_reason_is_no_data_not_withheld() -> None:
    frame = table(specialisation=[NAN, 0.5, 1.0, 1.5, 2.0])
    result = build(frame, ["R1", "R2", "R3", "R4", "R5"], "specialisation", "equal_interval", 3)
    assert result.classes == [-2, 0, 0, 1, 2]
    assert [(e.label, e.count) for e in result.legend if e.kind == "class"] == [
        ("0.50 – 1.00", 2),
        ("1.00 – 1.50", 1),
        ("1.50 – 2.00", 1),
    ]


def test_official_values_with_a_reason_are_still_classified() -> None:
    frame = table(facilities=[1, 2, 3], facilities_withheld=[FEW, FEW, ""])
    result = build(frame, ["R1", "R2", "R3"], "facilities", "quantiles", 3)
    assert result.classes == [0, 1, 2]
    assert build(frame, ["R1", "R2", "R3"], "facilities", "quantiles", 3, withhold=False).classes == [0, 1, 2]


def test_without_withhold_a_missing_value_is_no_data() -> None:
    frame = table(facilities=[NAN, 2, 3], facilities_withheld=[FEW, "", ""])
    assert build(frame, ["R1", "R2", "R3"], "facilities", "quantiles", 3).classes[0] == -3
    assert build(frame, ["R1", "R2", "R3"], "facilities", "quantiles", 3, withhold=False).classes[0] == -2


@pytest.mark.parametrize("reason", [FEW, DOMINANT, SECONDARY, DERIVED])
def test_every_reason_code_withholds(reason: str) -> None:
    frame = table(companies=[NAN, 5, 6], companies_withheld=[reason, "", ""])
    result = build(frame, ["R1", "R2", "R3"], "companies", "equal_interval", 3)
    assert result.classes[0] == -3
    assert [(e.kind, e.count) for e in result.legend if e.kind == "withheld"] == [("withheld", 1)]


def test_reason_texts() -> None:
    assert reason_text(FEW) == "confidential: too few companies"
    assert reason_text(DOMINANT) == "confidential: one or two companies would dominate this figure"
    assert reason_text(SECONDARY) == (
        "confidential: withheld so that another confidential figure cannot be worked out"
    )
    assert reason_text(DERIVED) == "confidential: computed from a confidential figure"
    assert reason_text("") == ""


def test_all_zero_gives_no_colours_and_only_the_special_entries() -> None:
    frame = table(facilities=[0, 0, 0])
    result = build(frame, ["R1", "R2", "R3", "R9"], "facilities")
    assert result.classes == [-1, -1, -1, -2]
    assert result.colours == []
    assert [(e.kind, e.count) for e in result.legend] == [("zero", 3), ("withheld", 0), ("no_data", 1)]


def test_single_value_class_label_is_one_number() -> None:
    frame = table(facilities=[1, 2, 3, 4])
    result = build(frame, ["R1", "R2", "R3", "R4"], "facilities", "quantiles", 3)
    assert [(e.label, e.count) for e in result.legend if e.kind == "class"] == [
        ("1 – 2", 2),
        ("3", 1),
        ("4", 1),
    ]


def integer_ranges(entries: list[LegendEntry]) -> list[tuple[int, int]]:
    ranges = []
    for entry in entries:
        if entry.kind == "class":
            numbers = [int(n.replace(",", "")) for n in entry.label.split(" – ")]
            ranges.append((numbers[0], numbers[-1]))
    return ranges


def assert_whole_number_legend(values: list[int], scheme: str) -> list[tuple[int, int]]:
    frame = table(facilities=values)
    result = build(frame, list(frame.index), "facilities", scheme, 3)
    ranges = integer_ranges(result.legend)
    for (_, high), (low, _) in itertools.pairwise(ranges):
        assert low == high + 1, ranges  # no overlap, no gap
    counts = [e.count for e in result.legend if e.kind == "class"]
    assert counts == [sum(low <= v <= high for v in values) for low, high in ranges]
    return ranges


@pytest.mark.parametrize("scheme", ["quantiles", "equal_interval", "natural_breaks"])
def test_whole_number_ranges_do_not_overlap(scheme: str) -> None:
    ranges = assert_whole_number_legend([1, 1, 2, 5, 9, 20, 21, 40], scheme)
    assert ranges[0][0] == 1
    assert ranges[-1][1] == 40


def test_whole_number_ranges_for_quantiles_of_one_to_ten() -> None:
    assert assert_whole_number_legend(list(range(1, 11)), "quantiles") == [(1, 4), (5, 7), (8, 10)]


def test_whole_number_ranges_with_a_fractional_bound_above_half() -> None:
    # equal interval over 3..55 in three steps: bounds 20.33, 37.67, 55; 37.67 must not read 38
    ranges = assert_whole_number_legend([3, 5, 8, 13, 21, 34, 55], "equal_interval")
    assert ranges == [(3, 20), (21, 37), (38, 55)]


def test_hideout_payload() -> None:
    result = build(mixed_table(), ORDER, "facilities", "equal_interval", 3)
    assert result.payload("2021-3") == {
        "key": "2021-3",
        "cls": [-3, 0, 0, 0, -1, 2, -2],
        "colors": palette(3),
    }


def test_build_rejects_an_unknown_metric() -> None:
    with pytest.raises(ValueError, match=r"unknown metric 'sites'; allowed: facilities"):
        build(mixed_table(), ORDER, "sites")


# --- hover_lines ----------------------------------------------------------------------------


def row(**values: object) -> pd.Series:
    base = dict.fromkeys(vocab.METRICS, 0.0) | {withheld_column(m): "" for m in vocab.METRICS}
    return pd.Series(base | values, dtype=object)


def test_hover_for_a_normal_region() -> None:
    r = row(facilities=12, capacity=1_500_000.0)
    assert hover_lines("DE111", "Kreis West", "capacity", r) == [
        "Kreis West (DE111)",
        "Capacity: 1.5 M doses/month",
        "Sites: 12",
    ]


def test_hover_for_the_sites_metric_has_no_second_site_line() -> None:
    assert hover_lines("DE111", "Kreis West", "facilities", row(facilities=1234)) == [
        "Kreis West (DE111)",
        "Sites: 1,234 sites",
    ]


def test_hover_for_a_withheld_region() -> None:
    r = row(
        facilities=NAN,
        companies=NAN,
        capacity=NAN,
        facilities_withheld=FEW,
        companies_withheld=FEW,
        capacity_withheld=FEW,
    )
    assert hover_lines("AT111", "Mittelburgenland", "companies", r) == [
        "Mittelburgenland (AT111)",
        "Companies: withheld (confidential: too few companies)",
        "Sites: withheld",
    ]


def test_hover_for_capacity_withheld_by_dominance_still_counts_sites() -> None:
    r = row(facilities=4, companies=3, capacity=NAN, capacity_withheld=DOMINANT)
    assert hover_lines("X1", "X", "capacity", r)[1:] == [
        "Capacity: withheld (confidential: one or two companies would dominate this figure)",
        "Sites: 4",
    ]
    assert hover_lines("X1", "X", "companies", r)[1:] == ["Companies: 3 companies", "Sites: 4"]


def test_hover_for_an_official_says_what_other_roles_do_not_see() -> None:
    r = row(facilities=2, capacity=1500.0, capacity_withheld=SECONDARY)
    assert hover_lines("X1", "X", "capacity", r)[1:] == [
        "Capacity: 1.5 k doses/month",
        "Not shown to other roles (withheld so that another confidential figure cannot be worked out)",
        "Sites: 2",
    ]


def test_hover_for_a_region_without_data() -> None:
    assert hover_lines("MT001", "Malta", "capacity", None) == [
        "Malta (MT001)",
        "no data: no survey answers from this region's country",
    ]


def test_hover_for_specialisation_without_and_with_a_stage_filter() -> None:
    r = row(facilities=7, specialisation=NAN)
    assert hover_lines("FR101", "Paris", "specialisation", r, stage_filter=False) == [
        "Paris (FR101)",
        "Specialisation (location quotient): select a production stage",
        "Sites: 7",
    ]
    r = row(facilities=7, specialisation=1.3456)
    assert hover_lines("FR101", "Paris", "specialisation", r, stage_filter=True)[1] == (
        "Specialisation (location quotient): 1.35 (LQ, 1 = average)"
    )
