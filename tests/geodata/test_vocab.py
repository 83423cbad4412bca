"""The vocabulary: tolerant label matching, one table per field."""

from __future__ import annotations

import pytest

from geodata import vocab


@pytest.mark.parametrize(
    "text",
    ["fill_finish", "Fill & finish", "fill-finish", "Fill and Finish", "FILL & FINISH", "  fill  finish "],
)
def test_stage_labels_match_tolerantly(text: str) -> None:
    assert vocab.to_code("stages", text) == "fill_finish"


@pytest.mark.parametrize(
    ("field", "text", "code"),
    [
        ("stages", "Quality control & batch release", "qc_testing"),
        ("stages", "Drug-Substance", "drug_substance"),
        ("stages", "Storage, cold chain & distribution", "cold_chain_logistics"),
        ("platforms", "MRNA", "mrna"),
        ("platforms", "Inactivated / whole virus", "inactivated"),
        ("platforms", "viral-vector", "viral_vector"),
        ("bottlenecks", "Glass vials & rubber stoppers", "vials_stoppers"),
        ("bottlenecks", "Fill and finish", "fill_finish_slots"),
        ("company_size", "Medium", "medium"),
        ("company_size", "SME", "small"),
    ],
)
def test_codes_and_labels_of_each_vocabulary(field: str, text: str, code: str) -> None:
    assert vocab.to_code(field, text) == code


def test_every_code_and_label_maps_to_itself() -> None:
    for field, table in vocab.VOCABULARIES.items():
        for code, label in table.items():
            assert vocab.to_code(field, code) == code
            assert vocab.to_code(field, label) == code


@pytest.mark.parametrize(("field", "text"), [("stages", "baking"), ("platforms", "dna"), ("stages", "")])
def test_unknown_text_is_none(field: str, text: str) -> None:
    assert vocab.to_code(field, text) is None


def test_unknown_vocabulary_raises_naming_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown vocabulary 'colours'.*'stages'"):
        vocab.to_code("colours", "red")


def test_normalise_label_folds_accents_ampersands_and_punctuation() -> None:
    assert vocab.normalise_label("  Émulsion & Füll-Prozess_2 ") == "emulsion and full prozess 2"


def test_label_shows_the_label_or_the_code_itself() -> None:
    assert vocab.label("stages", "fill_finish") == "Fill & finish"
    assert vocab.label("metrics", "capacity") == "Capacity"
    assert vocab.label("stages", "nonsense") == "nonsense"


def test_every_bottleneck_is_relieved_by_a_known_stage_or_by_policy() -> None:
    assert set(vocab.BOTTLENECK_RELIEF) == set(vocab.BOTTLENECKS)
    assert {s for s in vocab.BOTTLENECK_RELIEF.values() if s} <= set(vocab.STAGES)
    assert [b for b, s in vocab.BOTTLENECK_RELIEF.items() if s is None] == [
        "financing",
        "export_restrictions",
    ]
