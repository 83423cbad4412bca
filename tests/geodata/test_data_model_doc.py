"""docs/DATA_MODEL.md: its generated tables match the code (scripts/write_data_model_doc.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from geodata import records, vocab

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "DATA_MODEL.md"


@pytest.fixture(scope="module")
def writer() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "write_data_model_doc", REPO / "scripts" / "write_data_model_doc.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_doc_matches_the_code(writer: ModuleType) -> None:
    committed = DOC.read_text(encoding="utf-8")
    assert writer.fill(committed) == committed, (
        "docs/DATA_MODEL.md is out of date with geodata: run python scripts/write_data_model_doc.py"
    )
    assert writer.main(["--check"]) == 0


def test_doc_lists_every_field_and_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    for field in records.FIELDS:
        assert f"| `{field}` |" in text, field
    for table in (vocab.STAGES, vocab.PLATFORMS, vocab.BOTTLENECKS, vocab.COMPANY_SIZES):
        for code, label in table.items():
            assert f"| `{code}` | {label} |" in text, code
    for code in vocab.METRICS:
        assert f"| `{code}` |" in text, code


def test_a_hand_edited_table_is_caught_and_rewritten(writer: ModuleType, tmp_path: Path) -> None:
    committed = DOC.read_text(encoding="utf-8")
    edited = committed.replace("| `fill_finish` | Fill & finish |", "| `fill_finish` | Filling |")
    assert edited != committed
    doc = tmp_path / "DATA_MODEL.md"
    doc.write_text(edited, encoding="utf-8")
    assert writer.main(["--check", "--doc", str(doc)]) == 1
    assert writer.main(["--doc", str(doc)]) == 0
    assert doc.read_text(encoding="utf-8") == committed


def test_missing_or_unknown_markers_are_refused(writer: ModuleType) -> None:
    committed = DOC.read_text(encoding="utf-8")
    without = committed.replace("<!-- END GENERATED stages -->", "")
    with pytest.raises(ValueError, match="no generated block for stages"):
        writer.fill(without)
    block = "<!-- BEGIN GENERATED recipes (scripts/write_data_model_doc.py) -->\n"
    unknown = committed + block + "<!-- END GENERATED recipes -->\n"
    with pytest.raises(ValueError, match="unknown generated block 'recipes'"):
        writer.fill(unknown)


def test_readme_points_to_the_doc_and_the_template() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    top = readme[: readme.index("## ")]
    assert "docs/DATA_MODEL.md" in top and "python -m geodata template" in top
    assert "python -m geodata template OUT.xlsx" in readme
