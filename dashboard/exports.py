"""CSV exports of what the screen shows: sites and regions, under the same disclosure rules.

UTF-8 with a byte-order mark (Excel opens it correctly), text cells that a spreadsheet would
run as a formula neutralised, provenance in trailing columns so every CSV parser reads it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from geodata import nuts, records, vocab
from geodata.aggregate import Filters

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PUBLIC_SITE_COLUMNS = (
    "facility_id",
    "company",
    "country",
    "city",
    "company_size",
    "cluster",
    "stages",
    "platforms",
    "bottlenecks",
    "gmp_certified",
    "contact_consent",
)
OFFICIAL_EXTRA = (*records.SENSITIVE, "public_listing")
NOT_PUBLIC = "(not public)"


def may_name_company(placed: pd.DataFrame, audience: str) -> np.ndarray:
    """Whether each site's company may be named: always for officials, else only with public_listing."""
    if audience == "official":
        return np.ones(len(placed), dtype=bool)
    return placed["public_listing"].fillna(False).to_numpy(dtype=bool)


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
    dataset: str, version: int, filters: Filters, audience: str, now: dt.datetime
) -> dict[str, str]:
    """The columns every exported row carries."""
    return {
        "dataset": dataset,
        "nuts_version": f"NUTS {version}",
        "filters": filters.describe(),
        "audience": audience,
        "exported_at": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": f"{nuts.SOURCE}; {nuts.ATTRIBUTION}",
    }


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV text as UTF-8 with BOM, comma-separated, CRLF-free."""
    return neutralise(frame).to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


def _with_names(frame: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    for level in vocab.NUTS_LEVELS:
        position = frame.columns.get_loc(f"nuts{level}") + 1
        frame.insert(position, f"nuts{level}_name", frame[f"nuts{level}"].map(names))
    return frame


def sites_table(
    placed: pd.DataFrame,
    rows: pd.Index | list[int],
    audience: str,
    names: pd.Series,
    meta: dict[str, str],
) -> pd.DataFrame:
    """The matching sites, with NUTS codes and names at every level and provenance columns.

    Public audience: company only where public_listing is yes; no capacity, lead time, staff or notes.
    """
    sites = records.facilities_to_flat(placed.iloc[list(rows)])
    columns = list(PUBLIC_SITE_COLUMNS) + (list(OFFICIAL_EXTRA) if audience == "official" else [])
    out = sites[columns].copy()
    named = may_name_company(placed, audience)[list(rows)]
    out["company"] = out["company"].where(named, NOT_PUBLIC)
    for level in vocab.NUTS_LEVELS:
        out[f"nuts{level}"] = sites[f"nuts{level}"]
    out = _with_names(out, names)
    out["nuts_match"] = sites["nuts_match"].to_numpy()
    out["placed_by"] = sites["placed_by"].to_numpy()
    for key, value in meta.items():
        out[key] = value
    return out.reset_index(drop=True)


def regions_table(table: pd.DataFrame, level: int, names: pd.Series, meta: dict[str, str]) -> pd.DataFrame:
    """The aggregated table on the map, one row per region, with names and provenance."""
    out = table.reset_index().rename(columns={f"nuts{level}": "nuts_id"})
    out.insert(1, "name", out["nuts_id"].map(names))
    out.insert(2, "level", level)
    for key, value in meta.items():
        out[key] = value
    return out
