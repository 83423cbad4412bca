"""CSV exports of what the screen shows: sites and regions, under the same disclosure rules.

UTF-8 with a byte-order mark (Excel opens it correctly), text cells that a spreadsheet would
run as a formula neutralised, provenance in trailing columns so every CSV parser reads it.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from geodata import disclosure, nuts, records, vocab
from geodata.aggregate import Filters

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells starting with = + - @ (or tab/CR) with ' so spreadsheets show them as text."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            text = out[column].astype("string")
            risky = text.str.startswith(FORMULA_STARTS).fillna(False)
            out[column] = text.where(~risky, "'" + text)
    return out


def provenance(
    dataset: str, version: int, filters: Filters, role: str, now: dt.datetime, round_name: str | None = None
) -> dict[str, str]:
    """The columns every exported row carries (``round``: the survey round, where stored)."""
    return {
        "dataset": dataset,
        **({"round": round_name} if round_name else {}),
        "nuts_version": f"NUTS {version}",
        "filters": filters.describe(),
        "role": role,
        "exported_at": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": f"{nuts.SOURCE}; {nuts.ATTRIBUTION}",
    }


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV text as UTF-8 with BOM, comma-separated, CRLF-free; whole numbers written without '.0'."""
    return neutralise(_whole_numbers(frame)).to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


def _whole_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns whose every value is whole (counts, doses) as nullable integers."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            values = out[column].astype("Float64")
            known = values.dropna()
            if len(known) and bool((known == known.round()).all()) and bool((known.abs() < 2**53).all()):
                out[column] = values.round().astype("Int64")
    return out


def _with_names(frame: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    for level in vocab.NUTS_LEVELS:
        position = list(frame.columns).index(f"nuts{level}") + 1
        frame.insert(position, f"nuts{level}_name", frame[f"nuts{level}"].map(names))
    return frame


def sites_table(
    placed: pd.DataFrame,
    rows: pd.Index | list[int],
    role: str,
    names: pd.Series,
    meta: dict[str, str],
) -> pd.DataFrame:
    """The given sites (``rows``: positions in ``placed``, already limited by the disclosure engine
    to the sites ``role`` may see) with the fields ``role`` may see, NUTS codes and names at
    every level, and provenance columns."""
    sites = records.facilities_to_flat(placed.iloc[list(rows)])
    columns = [c for c in disclosure.site_fields(role) if c in sites.columns]
    out = sites[columns].copy()
    for level in vocab.NUTS_LEVELS:
        out[f"nuts{level}"] = sites[f"nuts{level}"]
    out = _with_names(out, names)
    out["nuts_match"] = sites["nuts_match"].to_numpy()
    out["placed_by"] = sites["placed_by"].to_numpy()
    for key, value in meta.items():
        out[key] = value
    return out.reset_index(drop=True)


def regions_table(table: pd.DataFrame, level: int, names: pd.Series, meta: dict[str, str]) -> pd.DataFrame:
    """The region table of the disclosure engine, one row per region, with names, the reason any
    figure is withheld (in words) and provenance."""
    out = table.reset_index().rename(columns={f"nuts{level}": "nuts_id"})
    for metric in vocab.METRICS:
        column = disclosure.withheld_column(metric)
        out[column] = out[column].map(disclosure.reason_text).fillna("")
    out.insert(1, "name", out["nuts_id"].map(names))
    out.insert(2, "level", level)
    for key, value in meta.items():
        out[key] = value
    return out
