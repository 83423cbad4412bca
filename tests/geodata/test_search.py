"""The search box's index: folding, ranking, ties, limits, filters, companies, real NUTS names."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest
from rapidfuzz import fuzz

from geodata import nuts, search
from geodata.search import (
    FUZZY_CUTOFF,
    Entry,
    Hit,
    SearchIndex,
    company_entries,
    normalise,
    region_entries,
)


def region(code: str, name: str, version: int | None = 2021) -> Entry:
    level = len(code) - 2
    return Entry(
        kind="region",
        key=f"{version}:{code}",
        label=f"{name} ({code})",
        detail=f"NUTS {level}",
        terms=(name,),
        version=version,
        code=code,
        level=level,
    )


def keys(hits: list[Hit]) -> list[str]:
    return [hit.entry.key for hit in hits]


@pytest.fixture(scope="module")
def small() -> SearchIndex:
    return SearchIndex.build(
        [
            region("PL", "Polska"),
            region("PL71", "Łódzkie"),
            region("PL711", "Miasto Łódź"),
            region("PL712", "Łódzki"),
            region("DE2", "Bayern"),
            region("DE21", "Oberbayern"),
            region("DE212", "München, Kreisfreie Stadt"),
            region("DE21H", "München, Landkreis"),
            region("DEA2", "Köln"),
            region("DEA23", "Köln, Kreisfreie Stadt"),
            region("DE212", "München, Kreisfreie Stadt", version=2024),
        ]
    )


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Łódź", "lodz"),
        ("München, Kreisfreie Stadt", "munchen kreisfreie stadt"),
        ("  Köln  ", "koln"),
        ("Île-de-France", "ile de france"),
        ("Θεσσαλονίκη", "thessaloniki"),
        ("<script>", "script"),
        ("Straße", "strasse"),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_normalise_folds_accents_case_and_punctuation(text: str, folded: str) -> None:
    assert normalise(text) == folded


def test_accent_and_case_insensitive(small: SearchIndex) -> None:
    assert keys(small.search("lodz", version=2021)) == ["2021:PL71", "2021:PL712", "2021:PL711"]
    assert keys(small.search("ŁÓDŹ", version=2021)) == ["2021:PL71", "2021:PL712", "2021:PL711"]
    assert keys(small.search("koln"))[:2] == ["2021:DEA2", "2021:DEA23"]
    assert keys(small.search("munchen", version=2021)) == ["2021:DE212", "2021:DE21H"]


def test_german_umlaut_spelling_is_a_prefix_match(small: SearchIndex) -> None:
    hits = small.search("Muenchen", version=2021)
    assert keys(hits) == ["2021:DE212", "2021:DE21H"]
    assert {hit.match for hit in hits} == {"prefix"}
    assert small.search("Koeln")[0].entry.key == "2021:DEA2"
    assert small.search("Koeln")[0].match == "name"


def test_rule_order_code_name_prefix_substring_fuzzy(small: SearchIndex) -> None:
    code = small.search("de212", version=2021)
    assert code[0].entry.key == "2021:DE212"
    assert (code[0].match, code[0].score) == ("code", search.SCORE_CODE)
    name = small.search("bayern")
    assert [(hit.entry.key, hit.match) for hit in name] == [
        ("2021:DE2", "name"),
        ("2021:DE21", "substring"),  # "oberbayern"
    ]
    typo = small.search("bayren")
    assert typo[0].entry.key == "2021:DE2"
    assert typo[0].match == "fuzzy"
    assert FUZZY_CUTOFF <= typo[0].score < search.SCORE_SUBSTRING


def test_code_prefix_and_case(small: SearchIndex) -> None:
    hits = small.search("DE21", version=2021)
    assert hits[0].entry.key == "2021:DE21"
    assert hits[0].match == "code"
    assert keys(hits[1:]) == ["2021:DE212", "2021:DE21H"]  # code prefixes, level 3, by label
    assert {hit.match for hit in hits[1:]} == {"prefix"}
    assert small.search("de 212", version=2021)[0].entry.key == "2021:DE212"


def test_version_filter_keeps_the_version(small: SearchIndex) -> None:
    assert keys(small.search("DE212")) == ["2021:DE212", "2024:DE212"]
    assert keys(small.search("DE212", version=2024)) == ["2024:DE212"]
    assert keys(small.search("DE212", version=2021)) == ["2021:DE212"]


def test_ties_coarser_level_first_then_label() -> None:
    index = SearchIndex.build(
        [
            region("XX123", "Alpha Zeta"),
            region("XX12", "Zeta"),
            region("XX124", "Zeta Alpha"),
            region("XX1", "Beta Zeta"),
            region("XX125", "Aaa Zeta"),
            Entry("company", "company:zeta", "Zeta Labs", "Company", ("Zeta Labs",)),
            Entry("site", "site:S1", "Zeta Labs — Graz", "Site", ("Zeta Labs", "Graz"), code="S1"),
        ]
    )
    hits = index.search("zeta", version=2021)
    # exact name first; then the prefix matches: level 1, then level 3 by label, then company, site
    assert keys(hits) == [
        "2021:XX12",
        "2021:XX1",
        "2021:XX125",
        "2021:XX123",
        "2021:XX124",
        "company:zeta",
        "site:S1",
    ]
    assert [hit.match for hit in hits] == ["name", *["prefix"] * 6]


def test_deterministic_and_independent_of_input_order() -> None:
    entries = [region(f"XX{i:03d}", f"Town {i % 7}") for i in range(200)]
    shuffled = entries[:]
    random.Random(3).shuffle(shuffled)
    first = SearchIndex.build(entries).search("town", limit=50)
    second = SearchIndex.build(shuffled).search("town", limit=50)
    assert keys(first) == keys(second)
    assert keys(first) == sorted(keys(first), key=lambda k: (f"town {int(k[-3:]) % 7}", k))


@pytest.mark.parametrize("limit", [1, 2, 5, 25])
def test_limit_is_respected(limit: int) -> None:
    index = SearchIndex.build([region(f"XX{i:03d}", f"Town {i}") for i in range(100)])
    assert len(index.search("town", limit=limit)) == limit
    assert index.search("town", limit=0) == []


@pytest.mark.parametrize("query", ["", "   ", "\t\n", None, "!!!", "<>"])
def test_empty_queries_find_nothing(small: SearchIndex, query: str | None) -> None:
    assert small.search(query) == []


def test_junk_long_and_markup_queries(small: SearchIndex) -> None:
    assert small.search("zzzz") == []
    assert small.search("<script>alert(1)</script>") == []
    assert small.search("x" * 10_000) == []
    # cut to MAX_QUERY characters: the first 100 characters decide
    long = "Łódzkie" + " " * 93 + "nothing like this anywhere"
    assert small.search(long, version=2021)[0].entry.key == "2021:PL71"
    assert small.search("lodz" * 2_500) == []


def test_kinds_filter_and_unknown_kinds(small: SearchIndex) -> None:
    assert small.search("lodz", kinds=["company", "site"]) == []
    assert keys(small.search("lodz", kinds=["region"], limit=1)) == ["2021:PL71"]
    with pytest.raises(ValueError, match="unknown search kind"):
        small.search("lodz", kinds=["city"])


def test_build_rejects_repeated_keys_and_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="given twice"):
        SearchIndex.build([region("PL71", "Łódzkie"), region("PL71", "Lodzkie")])
    with pytest.raises(ValueError, match="unknown entry kind"):
        SearchIndex.build([Entry("city", "c", "C", "", ("C",))])  # type: ignore[arg-type]
    assert SearchIndex.build([]).search("anything") == []


FACILITIES = pd.DataFrame(
    {
        "facility_id": ["F1", "F2", "F3", "F4", "F5"],
        "company": [
            "Łódzkie Zakłady Farmaceutyczne sp. z o.o.",
            "Łódzkie Zakłady Farmaceutyczne Sp. z o.o.",
            "Müller Glas GmbH",
            "Société Générale de Vaccins S.A.",
            "Müller Glas GmbH",
        ],
        "city": ["Łódź", "Pabianice", "Köln", "Évry", None],
        "country": ["PL", "PL", "DE", "FR", "CH"],
    }
)


def test_company_entries_one_per_company_and_per_site() -> None:
    entries = {entry.key: entry for entry in company_entries(FACILITIES)}
    assert sorted(entries) == [
        "company:lodzkie zaklady farmaceutyczne",
        "company:muller glas",
        "company:societe generale de vaccins",
        "site:F1",
        "site:F2",
        "site:F3",
        "site:F4",
        "site:F5",
    ]
    lodz = entries["company:lodzkie zaklady farmaceutyczne"]
    assert lodz.kind == "company"
    assert lodz.label == "Łódzkie Zakłady Farmaceutyczne Sp. z o.o."  # tie: the first spelling in order
    assert lodz.detail == "Company · 2 sites · Poland"
    assert entries["company:muller glas"].detail == "Company · 2 sites · CH, Germany"
    assert entries["site:F1"].label == "Łódzkie Zakłady Farmaceutyczne sp. z o.o. — Łódź"
    assert entries["site:F1"].detail == "Site F1 · Łódź, Poland"
    assert entries["site:F5"].label == "Müller Glas GmbH"  # no city
    assert entries["site:F5"].detail == "Site F5 · CH"
    assert all(entry.version is None for entry in entries.values())


def test_companies_and_sites_found_accent_insensitively() -> None:
    index = SearchIndex.build(company_entries(FACILITIES))
    assert keys(index.search("muller", kinds=["company"])) == ["company:muller glas"]
    assert keys(index.search("mueller glas", kinds=["company"])) == ["company:muller glas"]
    assert keys(index.search("societe generale")) == ["company:societe generale de vaccins", "site:F4"]
    assert keys(index.search("evry")) == ["site:F4"]
    assert keys(index.search("lodz", kinds=["site"])) == ["site:F1", "site:F2"]  # company name and city
    assert keys(index.search("f3")) == ["site:F3"]  # facility id as a code
    assert index.search("f3")[0].match == "code"
    assert keys(index.search("zaklady farmaceutyczne", limit=1)) == ["company:lodzkie zaklady farmaceutyczne"]
    # the regions' version filter keeps companies and sites, which have no version
    assert len(index.search("glas", version=2024)) == 3


def test_company_entries_need_their_columns() -> None:
    with pytest.raises(ValueError, match="city"):
        company_entries(FACILITIES.drop(columns=["city"]))


def test_region_entries_from_names(tiny_nuts: Path) -> None:
    entries = region_entries({year: nuts.names(year) for year in (2021, 2024)})
    assert len(entries) == 18
    by_key = {entry.key: entry for entry in entries}
    assert by_key["2021:FR101"] == Entry(
        kind="region",
        key="2021:FR101",
        label="Commune Un (FR101)",
        detail="NUTS 3 · 2021 · France",
        terms=("Commune Un",),
        version=2021,
        code="FR101",
        level=3,
    )
    assert by_key["2024:DE"].terms == ("Deutschland", "Germany")
    assert "2021:DE113" not in by_key
    assert "2024:DE113" in by_key
    index = SearchIndex.build(entries)
    assert keys(index.search("region un", version=2024)) == ["2024:FR1"]
    assert keys(index.search("germany", version=2021)) == ["2021:DE"]
    assert keys(index.search("DE113")) == ["2024:DE113"]


def _reference(entries: list[Entry], query: str, limit: int) -> list[tuple[float, str]]:
    """The ranking by brute force over every entry: (score, key), best first."""
    text = normalise(query.strip()[: search.MAX_QUERY])[: search.MAX_QUERY]
    if not text:
        return []
    code = text.replace(" ", "")
    scored = []
    for entry in entries:
        names = set().union(*(search._spellings(term) for term in entry.terms))
        entry_code = search.normalise_code(entry.code) if entry.code else ""
        if entry_code and entry_code == code:
            score = search.SCORE_CODE
        elif text in names:
            score = search.SCORE_NAME
        elif (entry_code and entry_code.startswith(code)) or any(
            name.startswith(text) or f" {text}" in name for name in names
        ):
            score = search.SCORE_PREFIX
        elif any(text in name for name in names):
            score = search.SCORE_SUBSTRING
        elif len(text) >= search.FUZZY_MIN_LENGTH:
            choices = names if " " in text else {word for name in names for word in name.split()}
            score = max((fuzz.ratio(text, choice) for choice in choices), default=0.0)
            if score < FUZZY_CUTOFF:
                continue
        else:
            continue
        scored.append((score, entry))
    scored.sort(key=lambda item: (-item[0], search._order_key(item[1])))
    return [(score, entry.key) for score, entry in scored[:limit]]


def test_fast_search_equals_brute_force_ranking() -> None:
    rng = random.Random(7)
    syllables = ["lo", "dz", "mü", "nch", "en", "ba", "yer", "köl", "n", "ost", "a", "zeta", " "]
    entries: list[Entry] = []
    for i in range(400):
        name = "".join(rng.choice(syllables) for _ in range(rng.randint(1, 6))).strip() or "x"
        kind = rng.choice(["region", "company", "site"])
        if kind == "region":
            code = f"{rng.choice(['DE', 'PL'])}{i:0{rng.randint(1, 3)}d}"[:5]
            version = rng.choice([2021, 2024])
            entries.append(
                Entry(
                    "region",
                    f"{version}:{code}:{i}",
                    f"{name} ({code})",
                    "",
                    (name,),
                    version,
                    code,
                    len(code) - 2,
                )
            )
        else:
            entries.append(Entry(kind, f"{kind}:{i}", name, "", (name, "Köln"), code=f"S{i}"))  # type: ignore[arg-type]
    index = SearchIndex.build(entries)
    queries = ["lo", "lodz", "munchen", "muenchen", "bayer", "ba", "en", "koln", "de1", "s1", "s12", "zeta",
               "zetta", "a a", "lodzmu", "nch", "xyz", "l", "o"]  # fmt: skip
    for query in queries:
        for limit in (1, 3, 10, 500):
            got = [(hit.score, hit.entry.key) for hit in index.search(query, limit=limit)]
            assert got == _reference(entries, query, limit), (query, limit)


# --- The real GISCO names (NUTS_DATA_DIR) ---------------------------------------------------------


@pytest.fixture(scope="module")
def real_index(real_nuts: Path) -> SearchIndex:
    return SearchIndex.build(region_entries({year: nuts.names(year) for year in (2021, 2024)}))


def _found(index: SearchIndex, query: str, limit: int = 10) -> list[tuple[str, str]]:
    return [(hit.entry.key, hit.match) for hit in index.search(query, version=2021, limit=limit)]


@pytest.mark.integration
def test_real_region_entries(real_nuts: Path) -> None:
    entries = region_entries({year: nuts.names(year) for year in (2021, 2024)})
    assert len(entries) == len(nuts.names(2021)) + len(nuts.names(2024))
    pl711 = next(entry for entry in entries if entry.key == "2021:PL711")
    assert (pl711.label, pl711.detail) == ("Miasto Łódź (PL711)", "NUTS 3 · 2021 · Poland")
    pl712 = next(entry for entry in entries if entry.key == "2024:PL712")
    assert (pl712.label, pl712.detail) == ("Łódzki (PL712)", "NUTS 3 · 2024 · Poland")
    no = next(entry for entry in entries if entry.key == "2021:NO0")
    assert no.detail == "NUTS 1 · 2021 · NO"  # not an EU Member State: the code


@pytest.mark.integration
def test_real_lodz(real_index: SearchIndex) -> None:
    assert _found(real_index, "lodz")[:3] == [
        ("2021:PL71", "prefix"),  # Łódzkie, NUTS 2
        ("2021:PL712", "prefix"),  # Łódzki
        ("2021:PL711", "prefix"),  # Miasto Łódź
    ]
    assert _found(real_index, "Łódź")[:3] == _found(real_index, "lodz")[:3]


@pytest.mark.integration
@pytest.mark.parametrize("query", ["munchen", "München", "MUNCHEN", "Muenchen"])
def test_real_munchen_finds_the_city_first(real_index: SearchIndex, query: str) -> None:
    assert _found(real_index, query)[:2] == [("2021:DE212", "prefix"), ("2021:DE21H", "prefix")]


@pytest.mark.integration
def test_real_english_exonyms_only_by_chance(real_index: SearchIndex) -> None:
    # "munich" is no spelling of München: found only as a typo (fuzz.ratio 77), after nothing better
    assert _found(real_index, "munich") == [("2021:DE212", "fuzzy"), ("2021:DE21H", "fuzzy")]
    # "Bavaria" is too far from "Bayern"; "Bavria" is nearer to "Bari" than to "Bayern"
    assert _found(real_index, "bavaria") == []
    assert "2021:DE2" not in [key for key, _ in _found(real_index, "Bavria")]
    # a typo of the region's own name is found
    assert _found(real_index, "Bayren")[0] == ("2021:DE2", "fuzzy")
    # countries by their English names (NUTS names countries in their own languages)
    assert _found(real_index, "Poland")[0] == ("2021:PL", "name")
    assert _found(real_index, "greece") == [("2021:EL", "name")]


@pytest.mark.integration
def test_real_codes(real_index: SearchIndex) -> None:
    assert _found(real_index, "de212") == [("2021:DE212", "code")]
    assert real_index.search("DE212")[0].entry.key in {"2021:DE212", "2024:DE212"}
    hits = real_index.search("DE21", version=2021, limit=50)
    assert hits[0].entry.key == "2021:DE21"
    # Oberbayern and its 23 NUTS 3 regions, nothing else
    assert sorted(hit.entry.key for hit in hits) == sorted(
        f"2021:{code}" for code in nuts.names(2021).index if code.startswith("DE21")
    )
    assert len(hits) == 24


@pytest.mark.integration
@pytest.mark.parametrize("query", ["zzzz", "<script>", "x" * 10_000, "qqqqqq", "ʕ•ᴥ•ʔ"])
def test_real_junk_finds_nothing(real_index: SearchIndex, query: str) -> None:
    assert real_index.search(query) == []
