"""Distances from need to relief on hand-made sites on the equator (1 degree of longitude there is
111.195 km on the IUGG mean sphere: 2 pi 6371.0088 / 360)."""

from __future__ import annotations

import numpy as np
import pytest

from geodata import relief, vocab

DEGREE_KM = 111.195
PACKAGING = list(vocab.STAGES).index("primary_packaging")
VIALS = list(vocab.BOTTLENECKS).index("vials_stoppers")


def sites(rows: list[tuple[float, bool, bool, float]]) -> relief.Sites:
    """(longitude on the equator, offers primary packaging, reports vials, available capacity)."""
    n = len(rows)
    stages = np.zeros((n, len(vocab.STAGES)), dtype=bool)
    bottlenecks = np.zeros((n, len(vocab.BOTTLENECKS)), dtype=bool)
    for i, (_lon, offers, reports, _cap) in enumerate(rows):
        stages[i, PACKAGING], bottlenecks[i, VIALS] = offers, reports
    return relief.Sites.build(
        np.arange(n) * 10,
        np.zeros(n),
        np.array([r[0] for r in rows]),
        stages,
        bottlenecks,
        np.array([r[3] for r in rows]),
    )


def test_relief_counts_other_sites_only_and_sums_capacity() -> None:
    # reporters at 0 and 3 degrees; relievers at 1 (1 deg from 0), 5 (2 deg from 3), 3 (itself a
    # reporter: 3 deg to the other one) and 10 (7 deg)
    found = relief.relief_of(
        sites(
            [
                (0, False, True, 0),
                (1, True, False, 100),
                (5, True, False, 20),
                (3, True, True, 7),
                (10, True, False, 1),
            ]
        ),
        "vials_stoppers",
        "primary_packaging",
        with_capacity=True,
    )
    assert found.km == pytest.approx(np.array([1, 2, 3, 7]) * DEGREE_KM, rel=1e-4)
    assert found.within(1.5 * DEGREE_KM) == (1, 100.0)
    assert found.within(3.5 * DEGREE_KM) == (3, 127.0)
    assert found.within(0) == (0, 0.0)
    assert relief.relief_of(
        sites([(0, False, True, 0), (1, True, False, 100)]), "vials_stoppers", "primary_packaging", False
    ).within(500) == (1, None)


def test_a_lone_reporter_does_not_relieve_itself() -> None:
    found = relief.relief_of(sites([(0, True, True, 9)]), "vials_stoppers", "primary_packaging", True)
    assert np.isinf(found.km).all() and found.within(1e6) == (0, 0.0)
    nobody = relief.relief_of(sites([(0, True, False, 9)]), "vials_stoppers", "primary_packaging", True)
    assert nobody.within(1e6) == (0, 0.0)
    empty = relief.relief_of(sites([(0, False, True, 9)]), "vials_stoppers", "primary_packaging", True)
    assert len(empty.km) == 0 and empty.within(1e6) == (0, 0.0)


def test_nearest_km_from_points() -> None:
    found = sites([(0, True, False, 0), (4, True, False, 0), (2, False, False, 0)])
    chosen = found.offering("primary_packaging")
    km = relief.nearest_km(np.array([0.0, 0.0, np.nan]), np.array([1.0, 3.5, 1.0]), found, chosen)
    assert km[:2] == pytest.approx([DEGREE_KM, 0.5 * DEGREE_KM], rel=1e-4) and np.isnan(km[2])
    assert np.isnan(relief.nearest_km(np.zeros(2), np.zeros(2), found, np.array([], dtype=int))).all()


def test_sites_need_coordinates_and_flags_of_the_vocabulary() -> None:
    with pytest.raises(ValueError, match="coordinates"):
        relief.Sites.build(
            np.arange(1), np.array([np.nan]), np.zeros(1), np.zeros((1, len(vocab.STAGES)), dtype=bool),
            np.zeros((1, len(vocab.BOTTLENECKS)), dtype=bool), np.zeros(1),
        )  # fmt: skip
    with pytest.raises(ValueError, match="one column per code"):
        relief.Sites.build(
            np.arange(1), np.zeros(1), np.zeros(1), np.zeros((1, 2), dtype=bool),
            np.zeros((1, len(vocab.BOTTLENECKS)), dtype=bool), np.zeros(1),
        )  # fmt: skip
