"""Command line: ``python -m geodata assign | validate | fetch-nuts | audit-disclosure | template``, and the
survey store's ``import | rounds | history | publish | discard | export-store | import-store``
(geodata.store.commands).

Exit codes: 0 ran; 1 validate found rejected rows, or audit-disclosure found a protected figure
pinned down too closely; 2 unreadable input or missing NUTS data (or, for the store's commands,
a store that cannot be opened or a request it refuses).
validate also warns about company names that look like one company written twice and about
companies whose rows disagree on public_listing; warnings never change the exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from geodata import companies, nuts, placement, records, vocab
from geodata.readers import SOURCE_ROW, InputError, RawTable, canonical_column, read_table


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (InputError, nuts.NutsDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m geodata", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    assign = sub.add_parser("assign", help="add NUTS 0-3 codes to each row of a facility file or CSV")
    assign.add_argument("input", type=Path, metavar="INPUT")
    assign.add_argument("--out", type=Path, required=True, metavar="OUTPUT", help="CSV to write")
    _add_nuts_options(assign)
    assign.add_argument("--tolerance-km", type=float, default=10.0, help="snap distance (default 10)")
    assign.set_defaults(run=_assign)

    validate = sub.add_parser(
        "validate",
        help="report every problem per row, and warn about company identity; exit 1 if any row is rejected",
    )
    validate.add_argument("input", type=Path, metavar="INPUT")
    validate.add_argument("--rejected", type=Path, metavar="CSV", help="write the rejected rows here")
    validate.set_defaults(run=_validate)

    audit = sub.add_parser(
        "audit-disclosure",
        help="attack what a role is shown; exit 1 if any protected figure is pinned down too closely",
    )
    audit.add_argument("input", type=Path, metavar="DATA")
    audit.add_argument("--role", choices=("cluster", "public"), default="cluster")
    audit.add_argument("--year", type=int, choices=vocab.NUTS_YEARS, default=2021, help="NUTS version")
    audit.add_argument(
        "--quick", action="store_true", help="no filter, single codes and stage pairs only (no country pairs)"
    )
    audit.add_argument("--show", type=int, default=20, help="how many failures to print (default 20)")
    audit.add_argument(
        "--every", action="store_true", help="print every protected figure with the tightest interval found"
    )
    audit.set_defaults(run=_audit)

    fetch = sub.add_parser("fetch-nuts", help="download NUTS boundaries from GISCO into the cache")
    _add_nuts_options(fetch)
    fetch.add_argument("--labels", action="store_true", help="also fetch the label points")
    fetch.set_defaults(run=_fetch)

    template = sub.add_parser(
        "template", help="write the survey's Excel template (columns, drop-down lists of codes, instructions)"
    )
    template.add_argument("output", type=Path, metavar="OUT.xlsx")
    template.add_argument(
        "--send-to", metavar="TEXT", help="where respondents return the file, shown in the instructions"
    )
    template.set_defaults(run=_template)
    _add_store_commands(sub)
    return parser


def _add_store_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The survey store's commands; they run in geodata.store.commands."""
    imported = sub.add_parser(
        "import",
        help="validate a facility file, place its sites and store it as a survey round (one transaction)",
    )
    imported.add_argument("input", type=Path, metavar="FILE")
    imported.add_argument("--round", required=True, metavar="NAME", help="name of the new round")
    imported.add_argument("--publish", action="store_true", help="publish the round at once")
    imported.add_argument("--user", metavar="NAME", help="who imports (default: the login name)")
    imported.set_defaults(run=_run_store, store_command="import")
    rounds = sub.add_parser("rounds", help="list the survey rounds in the store")
    rounds.set_defaults(run=_run_store, store_command="rounds")
    history = sub.add_parser(
        "history",
        help="follow a site (facility_id) or a company's sites (company_id) across the published rounds",
    )
    which = history.add_mutually_exclusive_group(required=True)
    which.add_argument("--facility", metavar="ID", help="the site's facility_id")
    which.add_argument("--company", metavar="ID", help="the company's company_id (all its sites)")
    history.add_argument("--include-drafts", action="store_true", help="show draft rounds too")
    history.set_defaults(run=_run_store, store_command="history")
    for command, what in (("publish", "publish a draft round"), ("discard", "withdraw a round")):
        decide = sub.add_parser(command, help=what)
        decide.add_argument("name", metavar="NAME", help="the round's name")
        decide.add_argument("--user", metavar="NAME", help="who decides (default: the login name)")
        decide.set_defaults(run=_run_store, store_command=command)
    export = sub.add_parser("export-store", help="write the whole store to one GeoPackage")
    export.add_argument("output", type=Path, metavar="OUT.gpkg")
    export.add_argument("--user", metavar="NAME", help="for the audit log (default: the login name)")
    export.set_defaults(run=_run_store, store_command="export-store")
    restore = sub.add_parser("import-store", help="restore a GeoPackage written by export-store")
    restore.add_argument("input", type=Path, metavar="IN.gpkg")
    restore.add_argument("--user", metavar="NAME", help="for the audit log (default: the login name)")
    restore.set_defaults(run=_run_store, store_command="import-store")


def _run_store(args: argparse.Namespace) -> int:
    from geodata.store import commands  # SQLAlchemy and Alembic load only for these commands

    return commands.run(args)


def _audit(args: argparse.Namespace) -> int:
    from geodata.disclosure import audit, rules

    try:
        chosen = rules.Rules.from_env()
    except rules.ConfigurationError as exc:
        raise InputError(str(exc)) from None
    return audit.run(
        str(args.input),
        role=args.role,
        version=args.year,
        full=not args.quick,
        show=args.show,
        every=args.every,
        rules=chosen,
    )


def _add_nuts_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", type=int, choices=vocab.NUTS_YEARS, default=2021, help="NUTS version")
    parser.add_argument("--scale", choices=vocab.NUTS_SCALES, default="20M", help="boundary scale")


def _locating_columns(raw: RawTable) -> pd.DataFrame:
    """Coordinates, country, postcode and nuts3 from any table, parsed leniently per row."""
    by_name = {records.COLUMN_ALIASES.get(canonical_column(c), canonical_column(c)): c for c in raw.columns}
    if not ({"latitude", "longitude"} <= by_name.keys() or {"postcode", "nuts3"} & by_name.keys()):
        raise InputError(
            f"{raw.path}: no latitude/longitude columns (nor postcode or nuts3) to place rows by. "
            f"Columns found: {', '.join(raw.columns)}."
        )
    frame = pd.DataFrame(index=raw.frame.index)
    notes = [""] * len(raw.frame)

    def column(name: str) -> pd.Series:
        if name in by_name:
            return raw.frame[by_name[name]].astype(str).str.strip()
        return pd.Series("", index=raw.frame.index, dtype=object)

    for name, limit in (("latitude", 90), ("longitude", 180)):
        values = []
        for i, text in enumerate(column(name)):
            try:
                # decimal comma only when there is one: '48.137' is degrees, not 48137
                number = records.parse_number(text, "," in text) if text else np.nan
            except ValueError:
                number = np.nan
                notes[i] += f"{name} {text!r} is not a number; "
            if abs(number) > limit:
                notes[i] += f"{name} {text} is outside -{limit}..{limit}; "
                number = np.nan
            values.append(number)
        frame[name] = pd.array(values, dtype="Float64")
    country = column("country").str.upper().replace(vocab.ISO_TO_EUROSTAT)
    frame["country"] = country.where(country != "", None)
    frame["postcode"] = column("postcode").where(column("postcode") != "", None)
    nuts3 = column("nuts3").str.upper().str.replace(" ", "")
    frame["nuts3"] = nuts3.where(nuts3 != "", None)
    frame["input_note"] = [note.rstrip("; ") for note in notes]
    return frame


def _assign(args: argparse.Namespace) -> int:
    raw = read_table(args.input)
    located = _locating_columns(raw)
    # boundaries come from NUTS_DATA_DIR, the cache, or a GISCO download into the cache
    nuts.ensure_file(nuts.NutsKey(args.year, 3, args.scale))
    if args.year != 2024 and located["postcode"].notna().any():
        nuts.ensure_file(nuts.NutsKey(2024, 3, "20M"))  # the postcode table speaks NUTS 2024
    placed = placement.place(located, args.year, args.scale, args.tolerance_km)
    out = raw.frame.drop(columns=[SOURCE_ROW]).copy()
    for col in placement.PLACEMENT_COLUMNS:
        out[col] = placed[col].to_numpy()
    bad_input = located["input_note"] != ""
    out.loc[bad_input, "nuts_note"] = (
        located.loc[bad_input, "input_note"] + "; " + out.loc[bad_input, "nuts_note"].astype(str)
    ).str.rstrip("; ")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False, encoding="utf-8")
    counts = out["nuts_match"].value_counts()
    swapped = out["nuts_note"].str.contains("look swapped", regex=False).sum()
    other_country = out["nuts_note"].str.contains("but the record states", regex=False).sum()
    print(
        f"{args.input}: {len(out)} rows -> {args.out} (NUTS {args.year}, 1:{args.scale}, "
        f"tolerance {args.tolerance_km:g} km)\n"
        f"  within {counts.get(placement.WITHIN, 0)}, nearest {counts.get(placement.NEAREST, 0)}, "
        f"unmatched {counts.get(placement.UNMATCHED, 0)} (swapped coordinates {swapped}); "
        f"region in another country than stated {other_country}",
        file=sys.stderr,
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    table = records.load_facilities(args.input)
    for problem in table.problems:
        print(f"{problem.severity}: {problem}")
    n_rows = len(table.facilities) + len(table.rejected)
    print(
        f"{args.input}: {n_rows} rows, {len(table.facilities)} valid, {len(table.rejected)} rejected "
        f"({len(table.errors)} errors, {_count(table.problems, 'warning')} warnings, "
        f"{_count(table.problems, 'note')} notes)",
        file=sys.stderr,
    )
    if args.rejected is not None:
        table.rejected.to_csv(args.rejected, index=False, encoding="utf-8")
        print(f"rejected rows written to {args.rejected}", file=sys.stderr)
    _warn_about_companies(table.facilities)
    return 1 if len(table.rejected) else 0


def _count(problems: Sequence[records.Problem], severity: str) -> int:
    return sum(p.severity == severity for p in problems)


def _warn_about_companies(facilities: pd.DataFrame) -> None:
    """Print company-identity warnings on the valid rows: they need a person, not a rejection."""
    warnings = [*companies.near_duplicates(facilities), *companies.listing_conflicts(facilities)]
    for warning in warnings:
        print(f"warning: {warning}")
    if warnings:
        print(
            f"{len(warnings)} company warning(s): near-duplicate names or public_listing conflicts "
            "among the valid rows; they do not reject any row",
            file=sys.stderr,
        )


def _template(args: argparse.Namespace) -> int:
    from geodata import template

    try:
        path = template.write_template(args.output, send_to=args.send_to)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    print(f"template written to {path}; fill in the sheet '{template.DATA_SHEET}'", file=sys.stderr)
    return 0


def _fetch(args: argparse.Namespace) -> int:
    kinds = ("RG", "LB") if args.labels else ("RG",)
    for kind in kinds:
        for level in vocab.NUTS_LEVELS:
            key = nuts.NutsKey(args.year, level, args.scale, kind)
            found = nuts.find_file(key)
            if found:
                print(f"{key.level_file()}: already at {found[0]}", file=sys.stderr)
                continue
            print(f"{key.level_file()}: downloading from GISCO", file=sys.stderr)
            path = nuts.fetch(key, progress=nuts.print_progress)
            print(f"\n  saved {path}", file=sys.stderr)
    print(f"Boundaries: {nuts.SOURCE}. {nuts.ATTRIBUTION}.", file=sys.stderr)
    return 0
