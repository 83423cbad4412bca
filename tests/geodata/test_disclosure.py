"""The disclosure engine on hand-made adversarial tables: what each role gets, and what an attacker gets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geodata import disclosure
from geodata.aggregate import Filters, SiteIndex, aggregate
from geodata.disclosure import audit as audit_mod
from geodata.disclosure import secondary
from geodata.disclosure.rules import ConfigurationError

RULES = disclosure.Rules(key="test-key")


def placed(rows: list[tuple]) -> pd.DataFrame:
    """Placed sites: (facility_id, company, nuts3, stages, capacity, available_pct, listed)."""
    frame = pd.DataFrame(
        rows, columns=["facility_id", "company", "nuts3", "stages", "capacity_doses_per_month",
                       "available_capacity_pct", "public_listing"],
    )  # fmt: skip
    frame["nuts3"] = frame["nuts3"].astype("string")
    frame["country"] = frame["nuts3"].str.slice(0, 2)
    for level, width in ((0, 2), (1, 3), (2, 4)):
        frame[f"nuts{level}"] = frame["nuts3"].str.slice(0, width)
    frame["platforms"] = [() for _ in range(len(frame))]
    frame["bottlenecks"] = [() for _ in range(len(frame))]
    frame["company_size"] = pd.array([None] * len(frame), dtype="string")
    for column in ("capacity_doses_per_month", "available_capacity_pct"):
        frame[column] = frame[column].astype("Float64")
    frame["public_listing"] = frame["public_listing"].astype("boolean")
    return frame


FF = ("fill_finish",)
QC = ("qc_testing",)


def two_companies() -> pd.DataFrame:
    """DE111 holds two companies (A, B); DE112 five (C..G); FR101 four (H..K)."""
    rows = [
        ("a1", "A", "DE111", FF, 1000, 50, True),
        ("b1", "B", "DE111", FF, 3000, 10, True),
        *[(f"{c}1", c, "DE112", FF, 2000 + 100 * i, 20, i % 2 == 0) for i, c in enumerate("CDEFG")],
        *[(f"{c}1", c, "FR101", QC, 500 + 50 * i, 40, True) for i, c in enumerate("HIJK")],
    ]
    return placed(rows)


def release(frame: pd.DataFrame, role: str = "cluster", filters: Filters | None = None) -> disclosure.Release:
    index = SiteIndex.from_placed(frame)
    keys = disclosure.record_keys(index.facility_id, RULES.key)
    return disclosure.release(index, filters or Filters(), role, RULES, keys)


def run_audit(frame: pd.DataFrame, settings: list[Filters] | None = None) -> audit_mod.Report:
    index = SiteIndex.from_placed(frame)
    keys = disclosure.record_keys(index.facility_id, RULES.key)
    chosen = settings or audit_mod.adversarial_settings(["fill_finish", "qc_testing"])
    return audit_mod.audit(index, RULES, keys, all_settings=chosen)


def test_two_companies_are_withheld_and_their_sibling_protects_them() -> None:
    result = release(two_companies())
    level3 = result.table(3)
    assert np.isnan(level3.loc["DE111", "capacity"])
    assert level3.loc["DE111", "capacity_withheld"] == "few"
    assert level3.loc["DE111", "facilities_withheld"] == "few"
    # DE11 = DE111 + DE112: with DE11 shown, DE112 must go too (or DE11 itself)
    level2 = result.table(2)
    de112_hidden = np.isnan(level3.loc["DE112", "capacity"])
    de11_hidden = np.isnan(level2.loc["DE11", "capacity"])
    assert de112_hidden or de11_hidden
    # FR101 has four companies and no confidential neighbour: shown
    assert not np.isnan(level3.loc["FR101", "capacity"])


def test_parent_minus_children_recovers_nothing() -> None:
    report = run_audit(two_companies())
    assert report.findings, "the audit found no protected figure to attack"
    assert report.failures == []


def test_official_sees_true_values_and_the_reasons() -> None:
    frame = two_companies()
    result = release(frame, role="official")
    level3 = result.table(3)
    assert level3.loc["DE111", "capacity"] == 4000.0  # 1000 + 3000, written by hand
    assert level3.loc["DE111", "available_capacity"] == 800.0  # 1000 x 50% + 3000 x 10%
    assert level3.loc["DE111", "capacity_withheld"] == "few"
    truth = aggregate(SiteIndex.from_placed(frame), 3)
    assert level3.loc["DE112", "capacity"] == truth.loc["DE112", "capacity"] == 11000.0


def test_cluster_figures_carry_bounded_deterministic_noise() -> None:
    frame = two_companies()
    first, second = release(frame), release(frame)
    level3 = first.table(3)
    pd.testing.assert_frame_equal(level3, second.table(3))  # the same request, the same answer
    shown = level3.loc["FR101"]
    # FR101: four companies of 500, 550, 600, 650 doses; the noise is at most 25% of the largest
    assert abs(shown["capacity"] - 2300) <= 0.25 * 650 + 0.5
    assert abs(shown["facilities"] - 4) <= RULES.count_noise
    assert shown["companies"] >= RULES.min_companies


def test_one_dominant_company_withholds_capacity_only() -> None:
    rows = [
        ("big", "Big", "DE111", FF, 95000, 50, True),
        *[(f"s{i}", f"Small {i}", "DE111", FF, 1000, 50, True) for i in range(4)],
        *[(f"o{i}", f"Other {i}", "DE112", FF, 1000, 50, True) for i in range(5)],
    ]
    result = release(placed(rows))
    row = result.table(3).loc["DE111"]
    assert row["capacity_withheld"] == "dominant"
    assert np.isnan(row["capacity"])
    assert row["available_capacity_withheld"] == "dominant"
    assert not np.isnan(row["facilities"])  # five companies: the count is shown
    assert run_audit(placed(rows), [Filters()]).failures == []


def test_each_magnitude_has_its_own_dominance_check() -> None:
    # capacity is evenly spread, but one company holds nearly all the *available* capacity
    rows = [
        ("x", "X", "DE111", FF, 10000, 90, True),
        *[(f"y{i}", f"Y {i}", "DE111", FF, 10000, 1, True) for i in range(4)],
        *[(f"o{i}", f"Other {i}", "DE112", FF, 1000, 50, True) for i in range(5)],
    ]
    row = release(placed(rows)).table(3).loc["DE111"]
    assert row["capacity_withheld"] in ("", "secondary")
    assert row["available_capacity_withheld"] == "dominant"


def test_several_sites_of_one_company_are_one_contributor() -> None:
    rows = [
        *[(f"a{i}", "A", "DE111", FF, 1000, 50, True) for i in range(3)],
        ("b1", "B", "DE111", FF, 1000, 50, True),
        *[(f"o{i}", f"Other {i}", "DE112", FF, 1000, 50, True) for i in range(5)],
    ]
    row = release(placed(rows)).table(3).loc["DE111"]
    assert row["facilities_withheld"] == "few"  # four sites, two companies


def test_a_company_spelled_two_ways_is_one_contributor() -> None:
    rows = [
        ("p1", "Pharma X GmbH", "DE111", FF, 1000, 50, True),
        ("p2", "pharma x  gmbh", "DE111", FF, 1000, 50, True),
        ("q1", "Q AG", "DE111", FF, 1000, 50, True),
        *[(f"o{i}", f"Other {i}", "DE112", FF, 1000, 50, True) for i in range(5)],
    ]
    row = release(placed(rows)).table(3).loc["DE111"]
    assert row["facilities_withheld"] == "few"


def test_cards_minus_map_is_covered_by_the_total() -> None:
    # one country with one company, the other with five: the total would give the first away
    rows = [
        ("a1", "A", "AT111", FF, 7000, 50, False),
        *[(f"b{i}", f"B {i}", "BE211", FF, 1000, 50, True) for i in range(5)],
    ]
    result = release(placed(rows), filters=Filters(countries=("AT", "BE")))
    assert np.isnan(result.table(0).loc["AT", "capacity"])
    assert result.totals["capacity"] is None or np.isnan(result.table(0).loc["BE", "capacity"])
    assert run_audit(placed(rows), [Filters(countries=("AT", "BE"))]).failures == []


def test_differencing_two_stage_filters_gets_a_wide_interval() -> None:
    # Italy's attack: all stages minus every stage but formulation isolates one unlisted site
    rows = [
        ("u1", "Unlisted", "DE111", ("formulation",), 6841000, 30, False),
        *[(f"o{i}", f"Other {i}", "DE111", FF, 2000000 + 1000 * i, 50, True) for i in range(6)],
        *[(f"p{i}", f"Peer {i}", "DE112", FF, 1000000, 50, True) for i in range(4)],
    ]
    report = run_audit(placed(rows), audit_mod.adversarial_settings(["fill_finish", "formulation"]))
    diffs = [f for f in report.findings if f.attack == "differencing" and f.cell == "DE111"]
    assert any(f.metric == "capacity" and f.value == 6841000 for f in diffs)
    assert report.failures == []


def test_sites_of_unlisted_companies_are_invisible_to_restricted_roles() -> None:
    frame = two_companies()
    frame.loc[frame["facility_id"] == "b1", "public_listing"] = False
    index = SiteIndex.from_placed(frame)
    cluster = disclosure.visible_sites(index, "cluster")
    assert set(index.facility_id[cluster]) == {"a1", "C1", "E1", "G1", "H1", "I1", "J1", "K1"}
    assert disclosure.visible_sites(index, "official").all()
    assert "capacity_doses_per_month" not in disclosure.site_fields("public")
    assert "capacity_doses_per_month" in disclosure.site_fields("official")


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="role must be one of"):
        release(two_companies(), role="admin")


def test_rules_come_from_the_environment() -> None:
    rules = disclosure.Rules.from_env(
        {"ATLAS_MIN_COMPANIES": "5", "ATLAS_P_PERCENT": "15", "ATLAS_SECRET_KEY": "k"}
    )
    assert (rules.min_companies, rules.p_percent, rules.key) == (5, 15.0, "k")
    with pytest.raises(ConfigurationError, match="ATLAS_P_PERCENT must be a number"):
        disclosure.Rules.from_env({"ATLAS_P_PERCENT": "ten"})
    with pytest.raises(ConfigurationError, match="min_companies"):
        disclosure.Rules.from_env({"ATLAS_MIN_COMPANIES": "1"})


@pytest.mark.parametrize("seed", range(20))
def test_interval_propagation_agrees_with_linear_programming(seed: int) -> None:
    """The engine's fast check and the audit's LP give the same intervals on random hierarchies."""
    rng = np.random.default_rng(seed)
    # a random tree: a total, 3 countries, up to 4 children each, two more levels
    parent = [-1]
    level = [-1]
    for depth in range(3):
        for p in [i for i, lv in enumerate(level) if lv == depth - 1]:
            for _ in range(int(rng.integers(1, 4))):
                parent.append(p)
                level.append(depth)
    parent_arr = np.array(parent)
    n = len(parent)
    values = np.zeros(n)
    for i in reversed(range(n)):
        if not (parent_arr == i).any():
            values[i] = float(rng.integers(0, 5))
        else:
            values[i] = values[parent_arr == i].sum()
    withheld = (rng.random(n) < 0.4) & (values > 0)
    lower = (values > 0).astype(float)
    cells = disclosure.Cells(
        np.array([str(i) for i in range(n)]), np.array(level), parent_arr, {}, {}, {}, {}
    )
    equations = cells.equations()
    low, high = secondary.intervals(values, lower, withheld, equations)
    lp_low, lp_high = audit_mod.lp_intervals(values, lower, withheld, equations)
    np.testing.assert_allclose(low[withheld], lp_low[withheld], atol=1e-6)
    np.testing.assert_allclose(high[withheld], lp_high[withheld], atol=1e-6)


SAMPLE_SETTINGS = [
    Filters(),
    Filters(stages=("drug_substance",)),
    Filters(stages=("formulation",)),
    Filters(stages=("drug_substance", "formulation")),
    Filters(countries=("AT",)),
    Filters(countries=("AT", "BE")),
    Filters(countries=("IT",)),
    Filters(stages=("drug_substance",), countries=("AT", "BE")),
    Filters(bottlenecks=("vials_stoppers",)),
]


@pytest.fixture(scope="module")
def sample_index(real_nuts, sample_facilities) -> SiteIndex:
    from geodata import placement

    return SiteIndex.from_placed(placement.place(sample_facilities, 2021, "20M", 10.0))


@pytest.mark.integration
def test_the_sample_survives_the_audit(sample_index: SiteIndex) -> None:
    keys = disclosure.record_keys(sample_index.facility_id, RULES.key)
    report = audit_mod.audit(sample_index, RULES, keys, all_settings=SAMPLE_SETTINGS)
    attacks = {f.attack for f in report.findings}
    assert attacks == {"linear programming", "sums of noisy counts", "differencing"}
    assert len(report.findings) > 500  # the sample has many small regions to protect
    assert report.failures == [], "\n".join(map(str, report.failures[:10]))


@pytest.mark.integration
def test_without_secondary_suppression_and_noise_the_audit_fails(sample_index: SiteIndex) -> None:
    """The attacks of the issue work on primary suppression alone: parent minus children gives
    withheld figures exactly, and differencing two settings isolates companies."""
    baseline = disclosure.Rules(key=RULES.key, noise_percent=0, count_noise=0, secondary=False)
    keys = disclosure.record_keys(sample_index.facility_id, baseline.key)
    report = audit_mod.audit(sample_index, baseline, keys, all_settings=SAMPLE_SETTINGS[:4])
    exact = [f for f in report.failures if f.attack == "linear programming" and f.width < 1e-6]
    assert any(f.metric == "capacity" for f in exact)
    assert any(
        f.cell == "BE1" and f.metric == "bottleneck_reports" and f.setting == "all sites" for f in exact
    )
    differences = [f for f in report.failures if f.attack == "differencing" and f.metric == "capacity"]
    assert any(f.cell == "IT" and f.width < 1e-6 for f in differences)  # the Italy attack
    assert any(f.attack == "differencing" for f in report.failures)


def test_audit_command_on_an_adversarial_file(tiny_nuts, tmp_path, capsys) -> None:
    from geodata import cli

    path = tmp_path / "two.csv"
    lines = ["facility_id,company,country,stages,latitude,longitude,capacity_doses_per_month,public_listing"]
    lines += [f"w{i},West {i} GmbH,DE,fill_finish,50.5,10.5,{1000 * (i + 1)},yes" for i in range(2)]
    lines += [f"e{i},East {i} AG,DE,fill_finish,50.5,11.5,{1000 * (i + 1)},no" for i in range(4)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = cli.main(["audit-disclosure", str(path), "--quick"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "audit of what role 'cluster' sees" in out
    assert "0 pinned down too closely" in out
    # --every: one line per protected figure with the tightest interval any attack gave
    assert cli.main(["audit-disclosure", str(path), "--quick", "--every"]) == 0
    every = capsys.readouterr().out
    lines = [line for line in every.splitlines() if line.startswith("ok: ")]
    # the two West companies make DE111 (and its parents up to DE) a region of too few companies
    assert any("; all sites; DE111 capacity: true 3,000," in line for line in lines)
    assert not any(line.startswith("DISCLOSED") for line in every.splitlines())


#: Keys under which the sample's site counts once cascaded to withholding every country and the
#: total (a complement model that forbade withholding a parent whose children were all withheld,
#: checked against an exact attacker instead of the noise-aware one the counts are built for).
CASCADE_KEYS = ("key1", "key3", "key6", "key7", "key8", "key9", "key11")


@pytest.mark.integration
@pytest.mark.parametrize("key", CASCADE_KEYS)
def test_headline_counts_stay_visible_and_safe_whatever_the_key(sample_index: SiteIndex, key: str) -> None:
    rules = disclosure.Rules(key=key)
    keys = disclosure.record_keys(sample_index.facility_id, key)
    result = disclosure.release(sample_index, Filters(), "cluster", rules, keys)
    assert {m: why for m, why in result.totals_withheld.items() if why} == {}
    report = audit_mod.audit(sample_index, rules, keys, all_settings=[Filters()])
    assert report.failures == [], "\n".join(map(str, report.failures[:10]))


@pytest.mark.integration
def test_one_core_serves_both_role_groups_with_the_same_releases(sample_index: SiteIndex) -> None:
    """The role-independent part of a release (cells, noise, pattern) computed once gives each
    role exactly the release it gets computed on its own; a core of other filters is not used."""
    rules = disclosure.Rules(key="core-test")
    keys = disclosure.record_keys(sample_index.facility_id, rules.key)
    settings = [
        Filters(),
        Filters(stages=("fill_finish",)),
        Filters(bottlenecks=("vials_stoppers",), countries=("DE",)),
    ]
    for filters in settings:
        made = disclosure.core(sample_index, filters, rules, keys)
        other = disclosure.core(sample_index, Filters(platforms=("mrna",)), rules, keys)
        for role in ("official", "cluster", "public"):
            alone = disclosure.release(sample_index, filters, role, rules, keys)
            for given in (made, other):
                shared = disclosure.release(sample_index, filters, role, rules, keys, made=given)
                for level in range(4):
                    pd.testing.assert_frame_equal(alone.table(level), shared.table(level))
                assert (alone.totals, alone.totals_withheld) == (shared.totals, shared.totals_withheld)
    official = disclosure.release(sample_index, Filters(), "official", rules, keys)
    cluster = disclosure.release(sample_index, Filters(), "cluster", rules, keys)
    assert official.totals != cluster.totals  # the roles still differ (noise, withheld figures)
