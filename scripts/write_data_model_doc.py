"""Write the generated tables of docs/DATA_MODEL.md from the code, so the document never drifts.

The fields, codes, metrics, NUTS versions and disclosure defaults are defined once in geodata
(vocab, records, template, disclosure.rules). In the document each generated table sits
between two marker comments; everything outside them is written by hand::

    <!-- BEGIN GENERATED stages (scripts/write_data_model_doc.py) -->
    ...
    <!-- END GENERATED stages -->

Usage, from the repository root::

    python scripts/write_data_model_doc.py           # rewrite the tables in docs/DATA_MODEL.md
    python scripts/write_data_model_doc.py --check   # exit 1 if the document is out of date

tests/geodata/test_data_model_doc.py fails when the committed document differs from what this
script writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import argparse  # noqa: E402
import re  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402

from geodata import records, template, vocab  # noqa: E402
from geodata.disclosure import rules  # noqa: E402

DOC = REPO_ROOT / "docs" / "DATA_MODEL.md"
SCRIPT = "scripts/write_data_model_doc.py"

#: What each region metric means (labels and units come from vocab.METRICS).
METRIC_MEANINGS: dict[str, str] = {
    "facilities": "number of sites matching the filters",
    "companies": "number of distinct companies with a matching site",
    "capacity": "sum of capacity_doses_per_month of the matching sites",
    "available_capacity": (
        "sum of capacity_doses_per_month × available_capacity_pct / 100 of the matching sites"
    ),
    "bottleneck_reports": (
        "number of matching sites reporting the selected bottleneck(s) (any, if none selected)"
    ),
    "specialisation": (
        "location quotient: the region's share of its sites offering the selected stage(s), divided by "
        "the same share over all regions shown; 1 = average"
    ),
}
#: Disclosure parameters: Rules field -> (environment variable, meaning).
PARAMETERS: dict[str, tuple[str, str]] = {
    "min_companies": (
        "ATLAS_MIN_COMPANIES",
        "a region's figures are withheld when fewer companies contribute",
    ),
    "p_percent": (
        "ATLAS_P_PERCENT",
        "p% rule: a capacity figure is withheld when the second-largest company could estimate the "
        "largest one to within p %",
    ),
    "protection_percent": (
        "ATLAS_PROTECTION_PERCENT",
        "what anyone can work out about a withheld capacity figure stays at least this % of it away "
        "on each side (secondary suppression)",
    ),
    "noise_percent": (
        "ATLAS_NOISE_PERCENT",
        "published capacity figures carry noise of at most this % of the largest company's contribution",
    ),
    "count_noise": ("ATLAS_COUNT_NOISE", "published counts carry noise of at most this many units"),
}


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(row) for row in rows)])


def _code(text: str) -> str:
    return f"`{text}`"


def fields_table() -> str:
    def meaning(field: str) -> str:
        text = template.FIELD_HELP[field].meaning
        return text + (" **(commercially sensitive)**" if field in records.SENSITIVE else "")

    return _table(
        ("field", "type", "required", "meaning"),
        (
            (_code(f), template.FIELD_HELP[f].kind, "yes" if f in records.REQUIRED else "no", meaning(f))
            for f in records.FIELDS
        ),
    )


def stages_table() -> str:
    rows = ((_code(c), label, template.STAGE_EXAMPLES[c]) for c, label in vocab.STAGES.items())
    return _table(("code", "label", "examples"), rows)


def platforms_table() -> str:
    return _table(("code", "label"), ((_code(c), label) for c, label in vocab.PLATFORMS.items()))


def bottlenecks_table() -> str:
    def relief(code: str) -> str:
        stage = vocab.BOTTLENECK_RELIEF[code]
        return f"{_code(stage)} ({vocab.STAGES[stage]})" if stage else "(none: a policy matter)"

    rows = ((_code(c), label, relief(c)) for c, label in vocab.BOTTLENECKS.items())
    return _table(("code", "label", "relieved by stage"), rows)


def sizes_table() -> str:
    return _table(("code", "label"), ((_code(c), label) for c, label in vocab.COMPANY_SIZES.items()))


def countries_table() -> str:
    others = sorted(records.NUTS_COUNTRIES - set(vocab.EU_MEMBER_STATES))
    iso = ", ".join(f"{_code(iso)} → {_code(eu)}" for iso, eu in vocab.ISO_TO_EUROSTAT.items())
    return "\n".join(
        [
            _table(("code", "Member State"), ((_code(c), n) for c, n in vocab.EU_MEMBER_STATES.items())),
            "",
            "Also accepted (countries NUTS covers beyond the EU): " + ", ".join(map(_code, others)) + ".",
            "",
            f"ISO codes converted (and noted): {iso}.",
        ]
    )


def spellings_table() -> str:
    aliases = sorted(records.COLUMN_ALIASES.items(), key=lambda item: (item[1], item[0]))
    yes = ", ".join(_code(v) for v in sorted(records.YES))
    no = ", ".join(_code(v) for v in sorted(records.NO - {""}))
    return "\n".join(
        [
            _table(("column name in the file", "read as"), ((_code(a), _code(f)) for a, f in aliases)),
            "",
            f"Yes: {yes} (any case). No: {no}, or an empty cell.",
        ]
    )


def metrics_table() -> str:
    unknown = set(METRIC_MEANINGS) ^ set(vocab.METRICS)
    if unknown:
        raise ValueError(f"METRIC_MEANINGS and vocab.METRICS differ in: {', '.join(sorted(unknown))}")
    rows = (
        (_code(code), label, unit, METRIC_MEANINGS[code]) for code, (label, unit) in vocab.METRICS.items()
    )
    return _table(("code", "label", "unit", "meaning"), rows)


def nuts_table() -> str:
    return _table(
        ("", "values"),
        [
            ("versions", ", ".join(map(str, vocab.NUTS_YEARS))),
            ("levels", ", ".join(map(str, vocab.NUTS_LEVELS))),
            ("scales", ", ".join(f"1:{s}" for s in vocab.NUTS_SCALES)),
        ],
    )


def disclosure_table() -> str:
    defaults = rules.Rules()
    rows = ((_code(env), f"{getattr(defaults, f):g}", text) for f, (env, text) in PARAMETERS.items())
    parameters = _table(("setting", "default", "meaning"), rows)
    reasons = _table(("reason shown",), ((text,) for text in rules.REASONS.values()))
    return parameters + "\n\n" + reasons


GENERATED: dict[str, Callable[[], str]] = {
    "fields": fields_table,
    "spellings": spellings_table,
    "stages": stages_table,
    "platforms": platforms_table,
    "bottlenecks": bottlenecks_table,
    "company_size": sizes_table,
    "countries": countries_table,
    "metrics": metrics_table,
    "nuts": nuts_table,
    "disclosure": disclosure_table,
}
_BLOCK = re.compile(
    r"(?P<begin><!-- BEGIN GENERATED (?P<name>[a-z_]+) \(" + re.escape(SCRIPT) + r"\) -->\n)"
    r".*?"
    r"(?P<end><!-- END GENERATED (?P=name) -->)",
    re.DOTALL,
)


def fill(text: str) -> str:
    """``text`` with every generated block rewritten; ValueError if a block is missing or unknown."""
    found: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in GENERATED:
            raise ValueError(f"unknown generated block {name!r}; known: {', '.join(GENERATED)}")
        found.append(name)
        return f"{match['begin']}\n{GENERATED[name]()}\n\n{match['end']}"

    filled = _BLOCK.sub(replace, text)
    missing = [name for name in GENERATED if name not in found]
    if missing:
        raise ValueError(
            f"no generated block for {', '.join(missing)}; add "
            f"'<!-- BEGIN GENERATED NAME ({SCRIPT}) -->' and '<!-- END GENERATED NAME -->' lines"
        )
    return filled


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the document is out of date")
    parser.add_argument("--doc", type=Path, default=DOC, help="the document (default docs/DATA_MODEL.md)")
    args = parser.parse_args(argv)
    current = args.doc.read_text(encoding="utf-8")
    wanted = fill(current)
    if args.check:
        if wanted != current:
            print(f"{args.doc} is out of date; run: python {SCRIPT}", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        args.doc.write_text(wanted, encoding="utf-8")
        print(f"{args.doc}: tables rewritten", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
