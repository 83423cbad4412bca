"""Company identity: which facility rows belong to one company (the contributor of disclosure control).

Disclosure control counts companies, not sites (DATA_MODEL.md, Confidentiality). A company is
its ``company_id`` where the file gives one, else its *normalised name*: case, accents,
punctuation, spacing and legal form ("GmbH", "S.A.", "Sp. z o.o.", ...) do not make another
company. :func:`company_keys` gives each row its company; :func:`listed` applies the most
restrictive ``public_listing`` answer of a company to all its rows; :func:`near_duplicates` and
:func:`listing_conflicts` find what a person should look at (``python -m geodata validate``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from geodata.readers import SOURCE_ROW

ID_PREFIX = "id:"
NAME_PREFIX = "name:"
NEAR_DUPLICATE_THRESHOLD = 92.0
#: Sites named in one message before "and N more".
SHOWN_SITES = 5

#: Legal forms, written as :func:`normalise_name` leaves them before the legal form is removed
#: (lower case, no accents, dots and slashes dropped: "S.p.A." -> "spa", "A/S" -> "as").
#: Matched against the last tokens joined without spaces, so "S. A." and "Sp. z o.o." match too.
LEGAL_FORMS: frozenset[str] = frozenset(
    form.replace(" ", "")
    for form in (
        # Germany, Austria, Switzerland, Liechtenstein
        "gmbh", "mbh", "gesmbh", "ag", "kg", "kgaa", "ohg", "og", "ug", "ug haftungsbeschrankt",
        "ek", "ev", "eg", "gbr", "partg", "sagl",
        "gesellschaft mit beschrankter haftung", "aktiengesellschaft",
        # European company and cooperative
        "se", "sce", "ewiv", "eeig",
        # France, Belgium, Luxembourg
        "sa", "sas", "sasu", "sarl", "eurl", "sca", "scs", "snc", "scop", "sprl", "bvba", "cvba", "scrl",
        "societe anonyme",
        # Italy, Spain, Portugal
        "spa", "srl", "srls", "sapa", "scarl", "sl", "slu", "sau", "sll", "lda", "ltda", "unipessoal lda",
        # Netherlands
        "bv", "nv", "vof",
        # Poland
        "sp z oo", "spolka z oo", "spolka z ograniczona odpowiedzialnoscia", "sp j", "sp k", "ska",
        # Czechia, Slovakia, Slovenia, Croatia, Serbia, Bulgaria, Greece
        "sro", "spol s ro", "as", "vos", "ks", "doo", "dd", "jdoo", "ood", "eood", "ad", "ead",
        "ae", "epe", "ike",
        # Hungary
        "kft", "zrt", "nyrt", "bt", "kkt", "rt",
        # Nordic countries
        "ab", "ab publ", "oy", "oyj", "ky", "asa", "aps", "hf", "ehf",
        # Baltic countries
        "sia", "uab", "ou", "mtu",
        # United Kingdom, Ireland, elsewhere
        "ltd", "limited", "plc", "llp", "dac", "co ltd", "co limited", "company limited", "company ltd",
        "pty ltd", "pvt ltd", "private limited", "inc", "incorporated", "co inc", "corp", "corporation",
        "llc", "co llc", "lp",
    )
)  # fmt: skip
#: Legal forms that stand before the name: "S.C. Acme S.R.L." (Romania), "UAB Acme", "SIA Acme".
LEADING_LEGAL_FORMS: frozenset[str] = frozenset({"sc", "uab", "sia", "ou", "as", "ab"})
#: Words joining two legal forms, as in "GmbH & Co. KG" or "AG & Cie"; removed only between forms.
CONNECTORS: frozenset[str] = frozenset({"co", "cie", "and", "und", "et"})
#: Letters NFKD does not decompose into a base letter and an accent.
_LETTERS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"})
#: Dropped without a space, so "G.m.b.H." is "gmbh", "A/S" is "as" and "Reddy's" is "reddys".
_JOINING = re.compile(r"[.'’`´/·]")
_LONGEST_FORM = 6  # tokens of the longest legal form written with spaces


def normalise_name(name: str) -> str:
    """A company name reduced to what tells companies apart.

    Case-folded; accents removed (Unicode NFKD, and "ł" -> "l", "ø" -> "o" and similar);
    dots, apostrophes and slashes dropped, other punctuation and symbols read as spaces;
    whitespace collapsed; then legal forms (:data:`LEGAL_FORMS`, e.g. "GmbH & Co. KG", "S.p.A.",
    "Sp. z o.o.", "A/S") removed where they end the name, and :data:`LEADING_LEGAL_FORMS`
    where they start it. "X GmbH", "X  GmbH", "x gmbh." and "X G.m.b.H." all give "x". A name
    that is nothing but a legal form keeps it ("GmbH" gives "gmbh"), so it never becomes empty
    unless it had no letters or digits at all. The text is only text: markup is not interpreted.
    """
    folded = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c)).translate(_LETTERS)
    plain = _JOINING.sub("", plain)
    tokens = "".join(c if c.isalnum() else " " for c in plain).split()
    stripped = _strip_legal_forms(tokens)
    return " ".join(stripped or tokens)


def _strip_legal_forms(tokens: list[str]) -> list[str]:
    """``tokens`` without trailing legal forms (and connectors between them) and leading ones."""
    tokens = list(tokens)
    removed_form = False
    while tokens:
        length = _trailing_form_length(tokens)
        if length:
            del tokens[-length:]
            removed_form = True
        elif removed_form and tokens[-1] in CONNECTORS and _trailing_form_length(tokens[:-1]):
            del tokens[-1]  # the "& Co." of "GmbH & Co. KG": only when a legal form precedes it
        else:
            break
    while tokens and tokens[0] in LEADING_LEGAL_FORMS:
        del tokens[0]
    return tokens


def _trailing_form_length(tokens: list[str]) -> int:
    """How many of the last tokens spell a legal form (longest first), 0 if none."""
    for length in range(min(_LONGEST_FORM, len(tokens)), 0, -1):
        if "".join(tokens[-length:]) in LEGAL_FORMS:
            return length
    return 0


def company_keys(facilities: pd.DataFrame) -> pd.Series:
    """The company of each row, as a key: ``"id:<company_id>"`` or ``"name:<normalised name>"``.

    ``facilities`` needs a ``company`` column; ``company_id`` is optional. A company_id is
    trimmed, upper-cased and stripped of inner spaces ("de 123 456" is "DE123456"); a row with
    one is that company, whatever its name says. A row without one is its normalised company
    name (:func:`normalise_name`), except that rows with the same normalised name and no
    company_id join the company_id that the other rows of that name use, when they use exactly
    one: an id given on some rows of a company covers its other rows. When several company_ids
    share a name, they stay separate companies and the rows without an id form one more company
    under the name (``near_duplicates`` reports it). A missing company name is the empty name.
    Returns a string Series on the index of ``facilities``, named ``company_key``.
    """
    if "company" not in facilities.columns:
        raise ValueError("facilities need a 'company' column to tell companies apart")
    names = _normalised_names(facilities)
    ids = _clean_ids(facilities)
    with_id = pd.DataFrame({"name": names, "id": ids})[ids != ""].drop_duplicates()
    ids_per_name = with_id["name"].value_counts()
    sole_id: dict[str, str] = dict(with_id[with_id["name"].map(ids_per_name) == 1].itertuples(index=False))
    ids = ids.where(ids != "", names.map(sole_id).astype("string").fillna(""))
    keys = (ID_PREFIX + ids).where(ids != "", NAME_PREFIX + names)
    return keys.astype("string").rename("company_key")


def _normalised_names(facilities: pd.DataFrame) -> pd.Series:
    """normalise_name of each row's company (each distinct name once), "" where missing."""
    written = facilities["company"].astype("string").fillna("")
    return written.map({name: normalise_name(name) for name in written.unique()}).astype("string")


def _clean_ids(facilities: pd.DataFrame) -> pd.Series:
    if "company_id" not in facilities.columns:
        return pd.Series("", index=facilities.index, dtype="string")
    ids = facilities["company_id"].astype("string").fillna("")
    return ids.str.upper().str.replace(r"\s+", "", regex=True)


def listed(facilities: pd.DataFrame) -> np.ndarray:
    """Per row: whether the row's company agreed to be shown by name (``public_listing``).

    The most restrictive answer of the company's rows (:func:`company_keys`) applies to all of
    them: one row with no, or with no answer (missing, NA), and no row of the company is listed.
    Without a ``public_listing`` column nobody is listed. Returns a bool array, one per row.
    """
    agreed = _agreed(facilities)
    if not len(agreed):
        return np.zeros(0, dtype=bool)
    company = pd.factorize(company_keys(facilities))[0]
    refusals = np.bincount(company, weights=~agreed)
    return np.asarray(refusals[company] == 0, dtype=bool)


def _agreed(facilities: pd.DataFrame) -> np.ndarray:
    """True where the row itself says yes to public listing."""
    if "public_listing" not in facilities.columns:
        return np.zeros(len(facilities), dtype=bool)
    try:
        answers = facilities["public_listing"].astype("boolean")
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "public_listing must hold True, False or missing values (as records.load_facilities "
            f"returns them), not text such as 'yes': {exc}"
        ) from exc
    return answers.fillna(False).to_numpy(dtype=bool)


@dataclass(frozen=True)
class Site:
    """One facility row, named for a person: its facility_id and, where known, its file row."""

    facility_id: str
    row: int | None = None

    def __str__(self) -> str:
        return self.facility_id if self.row is None else f"{self.facility_id} (row {self.row})"


@dataclass(frozen=True)
class NearDuplicate:
    """Two companies whose names are nearly the same: perhaps one company written twice."""

    names: tuple[str, str]  # as written in the file
    keys: tuple[str, str]  # company_keys of the two companies
    sites: tuple[tuple[Site, ...], tuple[Site, ...]]  # the rows bearing each name
    score: float  # rapidfuzz token_sort_ratio of the normalised names, 0-100

    def __str__(self) -> str:
        first, second = (
            f"{name!r} ({_sites(sites)})" for name, sites in zip(self.names, self.sites, strict=True)
        )
        return (
            f"company names {first} and {second} are very similar (similarity {self.score:.0f}%) "
            "but count as two companies; give both rows the same company_id if they are one company"
        )


@dataclass(frozen=True)
class ListingConflict:
    """A company whose rows disagree on public_listing; the most restrictive answer applies."""

    name: str  # as written on the company's first row
    key: str
    listed: tuple[Site, ...]  # rows saying yes
    not_listed: tuple[Site, ...]  # rows saying no, or nothing

    def __str__(self) -> str:
        return (
            f"company {self.name!r} ({self.key}): public_listing is yes on {_sites(self.listed)} but no "
            f"or empty on {_sites(self.not_listed)}, so the company is shown by name nowhere; "
            "if it agreed, write yes on all its rows; if these are different companies, "
            "give them different company_ids"
        )


def _sites(sites: tuple[Site, ...]) -> str:
    shown = ", ".join(map(str, sites[:SHOWN_SITES]))
    more = len(sites) - SHOWN_SITES
    label = "facility" if len(sites) == 1 else "facilities"
    return f"{label} {shown}" + (f" and {more} more" if more > 0 else "")


def near_duplicates(
    facilities: pd.DataFrame, threshold: float = NEAR_DUPLICATE_THRESHOLD
) -> list[NearDuplicate]:
    """Pairs of companies whose normalised names score at least ``threshold`` (0-100) as similar.

    Similarity is rapidfuzz's ``token_sort_ratio`` of the normalised names, so word order does
    not matter; "Pharmaco GmbH" and "Pharmacco GmbH" score 94. Companies that differ only by
    their company_ids are not reported: two ids say they are two companies. Each pair appears
    once, in the order the companies first appear in ``facilities``. Every name is compared
    with every other (about a second for 5,000 distinct names): meant for validation, not for
    each request.
    """
    if not 0 < threshold <= 100:
        raise ValueError(f"threshold must be a similarity between 0 (exclusive) and 100, not {threshold!r}")
    keys = company_keys(facilities).to_numpy(str)
    names = _normalised_names(facilities).to_numpy(str)
    # one entry per (company, normalised name), first seen first; a company may bear several names
    entries, positions = _groups(np.char.add(np.char.add(keys, "\n"), names))
    entry_keys = np.array([entry.split("\n", 1)[0] for entry in entries], dtype=str)
    entry_names = [entry.split("\n", 1)[1] for entry in entries]
    pairs: dict[frozenset[str], tuple[float, int, int]] = {}  # best score per pair of companies
    chunk = max(1, 4_000_000 // max(len(entry_names), 1))  # score rows at a time: about 16 MB
    for start in range(0, len(entry_names), chunk):
        scores = process.cdist(
            entry_names[start : start + chunk],
            entry_names,
            scorer=fuzz.token_sort_ratio,
            score_cutoff=threshold,
            workers=1,
        )
        for i, j in zip(*np.nonzero(scores), strict=True):
            a, b = start + int(i), int(j)
            key_a, key_b = entry_keys[a], entry_keys[b]
            if a >= b or not entry_names[a] or key_a == key_b:
                continue
            if key_a.startswith(ID_PREFIX) and key_b.startswith(ID_PREFIX):
                continue  # two company_ids: the file says these are two companies
            pair, score = frozenset((key_a, key_b)), float(scores[i, j])
            if pair not in pairs or score > pairs[pair][0]:
                pairs[pair] = (score, a, b)
    written = facilities["company"].astype("string").fillna("").to_numpy(str)
    sites = _sites_of(facilities)
    return [
        NearDuplicate(
            names=(str(written[positions[a][0]]), str(written[positions[b][0]])),
            keys=(str(entry_keys[a]), str(entry_keys[b])),
            sites=(tuple(sites[i] for i in positions[a]), tuple(sites[i] for i in positions[b])),
            score=score,
        )
        for score, a, b in sorted(pairs.values(), key=lambda found: (found[1], found[2]))
    ]


def _groups(labels: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Distinct ``labels`` in first-seen order, and the positions holding each."""
    codes, uniques = pd.factorize(labels)
    if not len(uniques):
        return np.asarray(uniques), []
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1]
    return np.asarray(uniques), np.split(order, bounds)


def listing_conflicts(facilities: pd.DataFrame) -> list[ListingConflict]:
    """Companies (:func:`company_keys`) with rows saying yes and rows saying no or nothing to
    public_listing, in the order the companies first appear in ``facilities``."""
    agreed = _agreed(facilities)
    written = facilities["company"].astype("string").fillna("").to_numpy(str)
    sites = _sites_of(facilities)
    conflicts = []
    for key, rows in zip(*_groups(company_keys(facilities).to_numpy(str)), strict=True):
        yes, other = rows[agreed[rows]], rows[~agreed[rows]]
        if len(yes) and len(other):
            conflicts.append(
                ListingConflict(
                    name=str(written[rows[0]]),
                    key=str(key),
                    listed=tuple(sites[i] for i in yes),
                    not_listed=tuple(sites[i] for i in other),
                )
            )
    return conflicts


def _sites_of(facilities: pd.DataFrame) -> list[Site]:
    """Each row as a Site: its facility_id (else its index label) and source row where known."""
    if "facility_id" in facilities:
        ids = facilities["facility_id"].astype("string").fillna("").tolist()
    else:
        ids = facilities.index.astype(str).tolist()
    rows = facilities[SOURCE_ROW].tolist() if SOURCE_ROW in facilities else [None] * len(facilities)
    return [
        Site(str(fid), None if row is None or pd.isna(row) else int(row))
        for fid, row in zip(ids, rows, strict=True)
    ]
