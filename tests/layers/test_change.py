"""The comparison of two rounds: change per region, withheld where either side is, and its
diverging classes (values and expectations worked out by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers import choropleth

FEW = "few"


def release(values: dict[str, float | None], reasons: dict[str, str] | None = None) -> pd.DataFrame:
    reasons = reasons or {}
    index = list(values)
    return pd.DataFrame(
        {
            "capacity": [np.nan if v is None else v for v in values.values()],
            "capacity_withheld": [reasons.get(code, "") for code in index],
        },
        index=index,
    )


def test_change_is_the_difference_and_withheld_where_either_side_is() -> None:
    now = release({"A": 500, "B": None, "C": 100, "D": 0}, {"B": FEW})
    then = release({"A": 200, "B": 50, "C": None, "D": 0}, {"C": "dominant"})
    change = choropleth.change_table(now, then, "capacity")
    assert change.index.tolist() == ["A", "B", "C", "D"]
    assert change.loc["A", "capacity"] == 300
    assert change.loc["D", "capacity"] == 0
    assert np.isnan(change.loc["B", "capacity"]) and change.loc["B", "capacity_withheld"] == FEW
    assert np.isnan(change.loc["C", "capacity"]) and change.loc["C", "capacity_withheld"] == "dominant"


def test_an_official_value_marked_confidential_in_one_round_keeps_its_mark() -> None:
    # officials see every value; the reason says other roles do not see one side
    now = release({"A": 500}, {"A": FEW})
    then = release({"A": 200})
    change = choropleth.change_table(now, then, "capacity")
    assert change.loc["A", "capacity"] == 300 and change.loc["A", "capacity_withheld"] == FEW


def test_only_counts_and_doses_are_compared() -> None:
    with pytest.raises(ValueError, match="a comparison covers"):
        choropleth.change_table(release({"A": 1}), release({"A": 1}), "specialisation")


def test_diverging_classes_put_falls_and_rises_on_either_side_of_white() -> None:
    # sizes of the non-zero changes: 10, 20, 30, 40; k=5 gives 3 classes a side, bounds at the
    # 1/3, 2/3 and 3/3 quantiles of the sizes: 20, 30, 40
    table = pd.DataFrame(
        {
            "capacity": [-40.0, -10.0, 0.0, 20.0, 30.0, np.nan, np.nan],
            "capacity_withheld": ["", "", "", "", "", FEW, ""],
        },
        index=list("ABCDEFG"),
    )
    result = choropleth.build_change(table, list("ABCDEFG"), "capacity", k=5)
    # falls: classes 2 (smallest) .. 0 (largest); rises: 3 (smallest) .. 5 (largest)
    assert result.classes == [0, 2, -1, 3, 4, -3, -2]
    assert len(result.colours) == 6
    assert result.colours[0] == "rgb(127,59,8)"  # the darkest orange: the largest fall
    assert result.colours[-1] == "rgb(45,0,75)"  # the darkest purple: the largest rise
    assert "rgb(247,247,247)" not in result.colours  # the palette's middle is left for no change
    labels = [entry.label for entry in result.legend if entry.kind == "class"]
    assert labels == ["−40 – −30", "−30 – −20", "up to −20", "up to +20", "+20 – +30", "+30 – +40"]
    kinds = {entry.kind: entry.count for entry in result.legend if entry.kind != "class"}
    assert kinds == {"zero": 1, "withheld": 1, "no_data": 1}


def test_officials_see_no_grey_and_nothing_changed_is_all_white() -> None:
    table = pd.DataFrame({"capacity": [0.0, 0.0], "capacity_withheld": ["", ""]}, index=["A", "B"])
    result = choropleth.build_change(table, ["A", "B"], "capacity", k=3)
    assert result.classes == [-1, -1] and result.colours == []
