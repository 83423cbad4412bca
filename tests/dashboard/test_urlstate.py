"""The view in the URL: written compactly, read back exactly, hostile queries fall back with notices."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import urlstate
from dashboard.inputs import MapInputs
from dashboard.urlstate import View
from geodata import vocab
from layers.classify import K_RANGE, SCHEMES

COUNTRIES = ["AT", "DE", "FR", "PL"]


def test_the_default_view_has_no_query() -> None:
    assert urlstate.encode(View()) == ""
    assert urlstate.decode("", COUNTRIES) == (View(), [])
    assert urlstate.decode(None, COUNTRIES) == (View(), [])


def test_a_view_is_written_compactly_and_read_back() -> None:
    view = View(
        MapInputs(level=3, metric="capacity", stages=("fill_finish", "qc_testing"), countries=("DE",)),
        round="2022 spring",
        region="DE212",
        view="table",
    )
    search = urlstate.encode(view)
    assert search == (
        "?round=2022+spring&level=3&metric=capacity&stage=fill_finish&stage=qc_testing&country=DE"
        "&region=DE212&view=table"
    )
    assert urlstate.decode(search, COUNTRIES) == (view, [])


def test_hostile_queries_fall_back_with_notices() -> None:
    view, notices = urlstate.decode(
        "?level=9&metric=%3Cscript%3Ealert(1)%3C/script%3E&stage=baking&stage=fill_finish&region=<b>&view=x&evil=1",
        COUNTRIES,
    )
    assert view.inputs.level == 2 and view.inputs.metric == "facilities"
    assert view.inputs.stages == ("fill_finish",)
    assert view.region is None and view.view == "map"
    assert "Ignored NUTS level '9' (used 2)" in notices
    assert any(n.startswith("Ignored unknown metric '<script>alert(1)</script>'") for n in notices)
    assert "Ignored unknown parameter 'evil' in the address" in notices
    assert any("region '<b>'" in n for n in notices) and any("view 'x'" in n for n in notices)


def test_oversized_and_odd_queries_give_the_default_view() -> None:
    view, notices = urlstate.decode("?" + "stage=fill_finish&" * 300, COUNTRIES)
    assert view == View() and "over" in notices[0]
    view, notices = urlstate.decode("?x=" + "a" * 5000, COUNTRIES)
    assert view == View() and "4000 characters" in notices[0]
    assert urlstate.decode(["?level=3"], COUNTRIES)[0] == View()
    view, notices = urlstate.decode("?level=3&level=1&country=US&round=%00x", COUNTRIES)
    assert view.inputs.level == 3 and view.inputs.countries == () and view.round is None
    assert len(notices) == 3


codes = st.sampled_from


@settings(max_examples=200, deadline=None)
@given(
    level=codes(vocab.NUTS_LEVELS),
    version=codes(vocab.NUTS_YEARS),
    metric=codes(list(vocab.METRICS)),
    scheme=codes(list(SCHEMES)),
    k=st.integers(K_RANGE[0], K_RANGE[1]),
    stages=st.sets(codes(list(vocab.STAGES))),
    countries=st.sets(codes(COUNTRIES)),
    round_=st.one_of(
        st.none(), st.text(min_size=1, max_size=30).filter(lambda s: s == s.strip() and s.isprintable())
    ),
    region=st.one_of(st.none(), st.from_regex(r"[A-Z]{2}[A-Z0-9]{0,3}", fullmatch=True)),
    view=codes(urlstate.VIEWS),
)
def test_any_view_survives_the_round_trip(
    level, version, metric, scheme, k, stages, countries, round_, region, view
):
    chosen = View(
        MapInputs(
            version=version, level=level, metric=metric, scheme=scheme, k=k,
            stages=tuple(sorted(stages)), countries=tuple(sorted(countries)),
        ),
        round=round_, region=region, view=view,
    )  # fmt: skip
    assert urlstate.decode(urlstate.encode(chosen), COUNTRIES) == (chosen, [])
