"""The dashboard's provider on each backend: the published rounds, the default one, and the
comparison of two rounds (the same figures whichever database holds them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.data import SAMPLE_FILE, Atlas, NoPublishedRound
from geodata import disclosure, store
from geodata.aggregate import Filters
from layers import choropleth

#: The sample plus three sites of three new companies in Munich (DE212) and one in Lisbon (PT170).
LATER = [
    "L1,Later One GmbH,DE,München,,48.137,11.575,,small,,fill_finish,mrna,1000,10,,yes,,,,yes,yes,2022-03-01",
    "L2,Later Two GmbH,DE,München,,48.14,11.58,,small,,fill_finish,mrna,2000,10,,yes,,,,yes,yes,2022-03-01",
    "L3,Later Three GmbH,DE,München,,48.13,11.56,,small,,qc_testing,mrna,,,,yes,,,,no,yes,2022-03-01",
    "L4,Later Four Lda,PT,Lisboa,,38.72,-9.14,,small,,qc_testing,mrna,,,,yes,,,,yes,yes,2022-03-01",
]


@pytest.fixture
def later_file(tmp_path: Path) -> Path:
    path = tmp_path / "later.csv"
    path.write_text(SAMPLE_FILE.read_text(encoding="utf-8").rstrip("\n") + "\n" + "\n".join(LATER) + "\n")
    return path


def test_rounds_default_and_comparison(atlas: store.Store, later_file: Path) -> None:
    rules = disclosure.Rules(key="test-key")
    provider = Atlas(atlas, SAMPLE_FILE, rules=rules)
    assert [info.name for info in provider.published()] == ["sample_facilities"]
    assert provider.get(None).round == "sample_facilities"

    atlas.import_file(later_file, "2022", "anna")
    assert provider.get(None).round == "sample_facilities"  # a draft changes nothing
    atlas.publish("2022", user="anna")
    assert [info.name for info in provider.published()] == ["2022", "sample_facilities"]
    now, then = provider.get(None), provider.get("sample_facilities")
    assert now.round == "2022"

    def change(metric: str, level: int, role: str):
        return choropleth.change_table(
            now.regions(2021, level, Filters(), role), then.regions(2021, level, Filters(), role), metric
        )

    assert change("facilities", 3, "official").loc["DE212", "facilities"] == 3
    assert change("companies", 0, "official").loc["DE", "companies"] == 3
    assert change("capacity", 3, "official").loc["DE212", "capacity"] == 3000
    assert change("facilities", 0, "official").loc["PT", "facilities"] == 1
    untouched = change("facilities", 0, "official").drop(["DE", "PT"])["facilities"]
    assert (untouched.fillna(0) == 0).all()
    # a cluster: withheld wherever either round withholds it
    cluster = change("capacity", 3, "cluster")
    either = (
        now.regions(2021, 3, Filters(), "cluster")["capacity"].isna()
        | then.regions(2021, 3, Filters(), "cluster")["capacity"].isna()
    )
    assert cluster["capacity"].isna().equals(either)

    atlas.discard("2022", user="anna")
    assert provider.get(None).round == "sample_facilities"
    atlas.discard("sample_facilities", user="anna")
    with pytest.raises(NoPublishedRound):
        provider.get(None)
