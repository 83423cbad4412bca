"""The store's commands of ``python -m geodata`` (parsed in geodata.cli, run here).

import FILE --round NAME [--publish] [--user NAME], rounds, history (--facility ID | --company ID)
[--include-drafts], publish NAME, discard NAME, export-store OUT.gpkg, import-store IN.gpkg.
The store is the one ``connect()`` opens (``ATLAS_DATABASE_URL`` or the SQLite file in the user
data folder).
Exit codes: 0 done (also when rows were rejected); 2 unreadable input, missing NUTS data, a
store that cannot be opened, or a request the store refuses (the message says why).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from geodata import nuts
from geodata.store import Store, StoreError, connect, convert
from geodata.store.importing import SCALE
from geodata.store.reports import PLACEMENT_KINDS, ImportReport, RoundInfo

#: The role recorded in the audit log for whoever runs these commands: they hold the database.
CLI_ROLE = "official"


def run(args: argparse.Namespace) -> int:
    """Open the store and run ``args.store_command``; returns the exit code."""
    handlers: dict[str, Callable[[Store, argparse.Namespace], int]] = {
        "import": _import,
        "rounds": _rounds,
        "history": _history,
        "publish": _publish,
        "discard": _discard,
        "export-store": _export,
        "import-store": _restore,
    }
    try:
        atlas = connect()
    except (ValueError, sa.exc.DBAPIError) as exc:
        print(f"error: cannot open the store: {exc}", file=sys.stderr)
        return 2
    with atlas:
        print(f"store: {atlas.url}", file=sys.stderr)
        try:
            return handlers[args.store_command](atlas, args)
        except StoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2


def _user(args: argparse.Namespace) -> str:
    if getattr(args, "user", None):
        return str(args.user)
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (e.g. a container without a passwd entry)
        return "unknown"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _import(atlas: Store, args: argparse.Namespace) -> int:
    # boundaries come from NUTS_DATA_DIR, the cache, or a GISCO download into the cache
    for year in convert.PLACEMENT_YEARS:
        nuts.ensure_file(nuts.NutsKey(year, 3, SCALE))
    report = atlas.import_file(args.input, args.round, _user(args), publish=args.publish, progress=_progress)
    print(format_report(report))
    return 0


def format_report(report: ImportReport) -> str:
    """The import summary as the command prints it."""
    info = report.round
    lines = []
    if report.reused:
        lines.append(
            f"{info.source_name}: the same file (SHA-256 {info.checksum[:12]}…) as round {info.name!r}; "
            "that round is reused, nothing new was stored"
        )
    errors = report.errors
    lines.append(
        f"round {info.name!r} ({info.status}): {info.sites} valid sites, {info.rejected} rejected rows "
        f"({len(errors)} errors, {len(report.problems) - len(errors)} notes) from {info.source_name}, "
        f"imported {_when(info.imported_at)} UTC by {info.imported_by}"
    )
    if errors:
        lines.append("rejected rows:")
        lines += [f"  {problem}" for problem in errors]
    counts = report.placement_counts()
    for year in convert.PLACEMENT_YEARS:
        per_kind = counts.get(year, dict.fromkeys(PLACEMENT_KINDS, 0))
        shown = ", ".join(f"{kind.replace('_', ' ')} {per_kind[kind]}" for kind in PLACEMENT_KINDS)
        lines.append(f"placement in NUTS {year}: {shown}")
    lines += [f"  {problem}" for problem in report.placement_problems]
    if info.status == "draft":
        lines.append(
            f"publish it with `python -m geodata publish {_quoted(info.name)}`, "
            f"or discard it with `python -m geodata discard {_quoted(info.name)}`"
        )
    return "\n".join(lines)


def _rounds(atlas: Store, _args: argparse.Namespace) -> int:
    rounds = atlas.rounds()
    if not rounds:
        print("no rounds yet; add one with `python -m geodata import FILE --round NAME`", file=sys.stderr)
        return 0
    print(format_rounds(rounds))
    return 0


def format_rounds(rounds: list[RoundInfo]) -> str:
    """The rounds as an aligned text table."""
    header = ("round", "status", "sites", "rejected", "imported (UTC)", "by", "file")
    rows = [
        (r.name, r.status, str(r.sites), str(r.rejected), _when(r.imported_at), r.imported_by, r.source_name)
        for r in rounds
    ]
    return _table(header, rows, numeric={2, 3})


def _history(atlas: Store, args: argparse.Namespace) -> int:
    try:
        found = atlas.history(
            facility_id=args.facility, company_id=args.company, include_drafts=args.include_drafts
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if found.empty:
        rounds = "published or draft round" if args.include_drafts else "published round"
        what = (
            f"site {args.facility!r}" if args.facility is not None else f"a site of company {args.company!r}"
        )
        print(f"no {rounds} holds {what}", file=sys.stderr)
        return 0
    print(format_history(found))
    return 0


def format_history(found: pd.DataFrame) -> str:
    """A ``Store.history`` frame as an aligned text table (blank cells: absent; lists joined by ;)."""
    header = (
        "round",
        "published (UTC)",
        "facility",
        "company",
        "company_id",
        "country",
        "nuts3 2021",
        "nuts3 2024",
        "stages",
        "bottlenecks",
        "doses/month",
        "available",
        "public",
        "change",
    )
    rows = [
        (
            str(site["round"]),
            "draft" if pd.isna(site["published_at"]) else _when(site["published_at"]),
            *(_text(site[name]) for name in ("facility_id", "company", "company_id", "country")),
            *(_text(site[name]) for name in ("nuts3_2021", "nuts3_2024")),
            *(
                ";".join(site[name]) if isinstance(site[name], list) else ""
                for name in ("stages", "bottlenecks")
            ),
            _number(site["capacity_doses_per_month"]),
            _number(site["available_capacity_pct"], "%"),
            "" if pd.isna(site["public_listing"]) else ("yes" if site["public_listing"] else "no"),
            str(site["change"]),
        )
        for site in found.to_dict("records")
    ]
    return _table(header, rows, numeric={10, 11})


def _text(value: Any) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def _number(value: Any, unit: str = "") -> str:
    if value is None or pd.isna(value):
        return ""
    number = float(value)
    return (f"{number:,.0f}" if number.is_integer() else f"{number:,.1f}") + unit


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.rjust(w) if i in numeric else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in (header, *rows)
    )


def _publish(atlas: Store, args: argparse.Namespace) -> int:
    info = atlas.publish(args.name, user=_user(args))
    print(f"round {info.name!r}: {info.status}")
    return 0


def _discard(atlas: Store, args: argparse.Namespace) -> int:
    info = atlas.discard(args.name, user=_user(args))
    print(f"round {info.name!r}: {info.status}")
    return 0


def _export(atlas: Store, args: argparse.Namespace) -> int:
    path = atlas.export_geopackage(args.output)
    atlas.log(_user(args), CLI_ROLE, "export-store", path.name)
    print(f"{len(atlas.rounds())} rounds written to {path}")
    return 0


def _restore(atlas: Store, args: argparse.Namespace) -> int:
    added = atlas.import_geopackage(args.input)
    atlas.log(_user(args), CLI_ROLE, "import-store", args.input.name)
    shown = ", ".join(repr(name) for name in added) or "none (all were stored already)"
    print(f"{args.input}: rounds added: {shown}")
    return 0


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else ""


def _quoted(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").replace(".", "").isalnum() else repr(name)
