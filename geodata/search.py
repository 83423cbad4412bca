"""Search for the dashboard's search box: NUTS regions, companies and sites by name or code.

Pure Python (no Dash): build a :class:`SearchIndex` once from :class:`Entry` items, then call
:meth:`SearchIndex.search` on every keystroke. The caller decides what goes into the index
(which companies and sites a role may see is not decided here) and filters by kind and by NUTS
version at query time.

Matching folds case and accents through ``anyascii`` ("lodz" finds "Łódź", "koln" finds
"Köln"; German umlauts are also indexed as "ae"/"oe"/"ue", so "muenchen" finds "München"),
reads punctuation as spaces, compares codes without spaces ("de 212" is "DE212") and tolerates
small typos with ``rapidfuzz``. Ranking, from best to worst (:class:`Hit.score`):

====================  =====  ===================================================================
match                 score  when
====================  =====  ===================================================================
``"code"``            500    the query is the entry's code (NUTS code, facility id)
``"name"``            400    the query is one of the entry's names
``"prefix"``          300    a name, or a word in a name, starts with the query; or the code does
``"substring"``       200    a name contains the query
``"fuzzy"``           0-100  ``rapidfuzz.fuzz.ratio`` of the query and a name or a word of a name,
                             at least :data:`FUZZY_CUTOFF` (queries of 3+ characters only)
====================  =====  ===================================================================

Equal scores are ordered by kind and level (NUTS 0 before NUTS 3, regions before companies
before sites), then by label, then by key, so results are deterministic. Queries are trimmed and
cut to :data:`MAX_QUERY` characters; an empty query finds nothing.

Speed: the index keeps, per kind and version, the entries in that tie-break order and their
normalised names (and codes) joined into one string, so exact matches are dictionary look-ups,
prefix and substring matches are ``str.find`` scans that stop after ``limit`` entries, and a
rule runs only while the better rules found fewer than ``limit`` entries. The fuzzy rule is one
``rapidfuzz.process.extract`` with a score cutoff per kind and version, over the distinct words
of the names (one-word queries) or the distinct names (longer queries).
"""

from __future__ import annotations

import functools
import heapq
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
from anyascii import anyascii
from rapidfuzz import fuzz, process

from geodata.companies import normalise_name
from geodata.vocab import EU_MEMBER_STATES

Kind = Literal["region", "company", "site"]
Match = Literal["code", "name", "prefix", "substring", "fuzzy"]
KINDS: tuple[Kind, ...] = ("region", "company", "site")

#: Longest query looked at, in characters (after trimming); longer queries are cut.
MAX_QUERY = 100
#: Lowest ``fuzz.ratio`` (0-100) that counts as a fuzzy match: one wrong letter in a
#: four-letter word (75), a swapped pair in a six-letter word (83), "munich" ~ "munchen" (77).
FUZZY_CUTOFF = 75.0
#: Shortest normalised query for which fuzzy matching is tried.
FUZZY_MIN_LENGTH = 3

SCORE_CODE = 500.0
SCORE_NAME = 400.0
SCORE_PREFIX = 300.0
SCORE_SUBSTRING = 200.0

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SEPARATOR = "\x00"  # between names in a joined string; never in a normalised name
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
_KIND_RANK = {"region": 0, "company": 10, "site": 20}


@functools.lru_cache(maxsize=1 << 17)  # builds fold the same company and city names often
def normalise(text: str) -> str:
    """Fold text for matching: ASCII (anyascii), lower case, runs of other characters -> one space."""
    return " ".join(_NON_ALNUM.sub(" ", anyascii(text).lower()).split())


def normalise_code(code: str) -> str:
    """Fold a code for matching: like :func:`normalise`, without any spaces ("DE 212" -> "de212")."""
    return normalise(code).replace(" ", "")


@dataclass(frozen=True)
class Entry:
    """One thing the search box can find.

    ``key`` identifies it for the caller (unique within an index); ``label`` and ``detail`` are
    what the box shows; ``terms`` are the names it is found by (any spelling, normalised by the
    index); ``code`` is matched as a code (exact, or as a prefix); ``version`` is the NUTS version
    a region belongs to (None: any version); ``level`` the NUTS level, which orders ties.
    """

    kind: Kind
    key: str
    label: str
    detail: str
    terms: tuple[str, ...]
    version: int | None = None
    code: str | None = None
    level: int | None = None


@dataclass(frozen=True)
class Hit:
    """A search result: the entry, its score (see the module docs) and which rule matched."""

    entry: Entry
    score: float
    match: Match


def _order_key(entry: Entry) -> tuple[int, str, str, str]:
    """The tie-break order: kind and level (coarser first), then label, then key."""
    level = entry.level if entry.level is not None else 9
    return (_KIND_RANK[entry.kind] + level, normalise(entry.label), entry.label, entry.key)


def _spellings(term: str) -> set[str]:
    """The normalised forms a name is found by: anyascii's, and the German one for umlauts."""
    forms = {normalise(term), normalise(term.translate(_GERMAN))}
    forms.discard("")
    return forms


@dataclass
class _Part:
    """The entries of one kind and version, in tie-break order, with their lookup structures."""

    entries: list[Entry]
    codes: dict[str, list[int]] = field(default_factory=dict)  # code -> entries
    names: dict[str, list[int]] = field(default_factory=dict)  # name -> entries
    text: str = ""  # every name, each after a separator, in entry order
    text_starts: list[int] = field(default_factory=list)  # where each name's separator is
    text_owner: list[int] = field(default_factory=list)  # the entry of each name
    code_text: str = ""  # every code, each after a separator, in entry order
    code_starts: list[int] = field(default_factory=list)
    code_owner: list[int] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # distinct words of the names, for fuzzy matching
    word_owners: list[list[int]] = field(default_factory=list)  # their entries, in entry order
    name_list: list[str] = field(default_factory=list)  # distinct names, for fuzzy matching
    name_owners: list[list[int]] = field(default_factory=list)

    @classmethod
    def build(cls, entries: list[Entry]) -> _Part:
        part = cls(sorted(entries, key=_order_key))
        texts: list[str] = []
        codes: list[str] = []
        word_owners: dict[str, list[int]] = defaultdict(list)
        position = code_position = 0
        for index, entry in enumerate(part.entries):
            code = normalise_code(entry.code) if entry.code else ""
            if code:
                part.codes.setdefault(code, []).append(index)
                codes.append(_SEPARATOR + code)
                part.code_starts.append(code_position)
                part.code_owner.append(index)
                code_position += len(code) + 1
            names = sorted(set().union(*(_spellings(term) for term in entry.terms)))
            for name in names:
                part.names.setdefault(name, []).append(index)
                texts.append(_SEPARATOR + name)
                part.text_starts.append(position)
                part.text_owner.append(index)
                position += len(name) + 1
                for word in name.split():
                    owners = word_owners[word]
                    if not owners or owners[-1] != index:
                        owners.append(index)
        part.text = "".join(texts)
        part.code_text = "".join(codes)
        part.words = list(word_owners)
        part.word_owners = list(word_owners.values())
        part.name_list = list(part.names)
        part.name_owners = list(part.names.values())
        return part

    def exact(self, query: str, code: str) -> Iterator[tuple[float, Match, int]]:
        """Exact code matches, then exact name matches, each in entry order."""
        yield from ((SCORE_CODE, "code", index) for index in self.codes.get(code, ()))
        yield from ((SCORE_NAME, "name", index) for index in self.names.get(query, ()))

    def prefix(self, query: str, code: str) -> Iterator[int]:
        """Entries with a name or a word of a name starting with ``query``, or a code with ``code``."""
        return heapq.merge(
            _scan(_SEPARATOR + code, self.code_text, self.code_starts, self.code_owner),
            _scan(_SEPARATOR + query, self.text, self.text_starts, self.text_owner),
            _scan(" " + query, self.text, self.text_starts, self.text_owner),
        )

    def substring(self, query: str) -> Iterator[int]:
        """Entries with a name containing ``query``, in entry order (repeats possible)."""
        return _scan(query, self.text, self.text_starts, self.text_owner)

    def fuzzy(self, query: str, wanted: int, seen: set[int]) -> list[tuple[float, int]]:
        """The best ``wanted`` entries not in ``seen`` by fuzzy score, as (score, index), best first.

        A one-word query is compared with the words of the names, a longer one with whole names.
        """
        choices, owners = (
            (self.name_list, self.name_owners) if " " in query else (self.words, self.word_owners)
        )
        if not choices:
            return []
        best: dict[int, float] = {}
        cap = wanted + len(seen)  # owners are in entry order: later ones cannot make the cut
        for _choice, score, choice_index in process.extract(
            query, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=None
        ):
            for index in owners[choice_index][:cap]:
                if index not in seen and score > best.get(index, -1.0):
                    best[index] = score
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:wanted]
        return [(score, index) for index, score in ranked]


def _scan(needle: str, text: str, starts: list[int], owner: list[int]) -> Iterator[int]:
    """The entries whose text contains ``needle``, in entry order (repeats possible)."""
    find = text.find
    position = find(needle)
    while position >= 0:
        term = bisect_right(starts, position) - 1
        yield owner[term]
        # continue after this name: one hit per name is enough
        following = starts[term + 1] if term + 1 < len(starts) else len(text)
        position = find(needle, max(position + 1, following))


def _take_new(indices: Iterable[int], seen: set[int], wanted: int) -> list[int]:
    """The first ``wanted`` distinct indices not in ``seen`` (which they are added to)."""
    taken: list[int] = []
    if wanted <= 0:
        return taken
    for index in indices:
        if index not in seen:
            seen.add(index)
            taken.append(index)
            if len(taken) >= wanted:
                break
    return taken


class SearchIndex:
    """Entries prepared for fast search; build once with :meth:`build`, then :meth:`search`."""

    def __init__(self, parts: dict[tuple[Kind, int | None], _Part]) -> None:
        self._parts = parts

    @classmethod
    def build(cls, entries: Iterable[Entry]) -> SearchIndex:
        """An index over ``entries``; raises ValueError on an unknown kind or a repeated key."""
        groups: dict[tuple[Kind, int | None], list[Entry]] = defaultdict(list)
        keys: set[str] = set()
        for entry in entries:
            if entry.kind not in KINDS:
                raise ValueError(f"unknown entry kind {entry.kind!r}; expected one of {KINDS}")
            if entry.key in keys:
                raise ValueError(f"search entry key {entry.key!r} is given twice")
            keys.add(entry.key)
            groups[entry.kind, entry.version].append(entry)
        return cls({group: _Part.build(members) for group, members in groups.items()})

    def __len__(self) -> int:
        return sum(len(part.entries) for part in self._parts.values())

    def search(
        self,
        query: str | None,
        *,
        kinds: Iterable[str] | None = None,
        version: int | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        """The best ``limit`` entries for ``query``, best first (see the module docs for the order).

        ``kinds`` keeps only those kinds ("region", "company", "site"; None: all). ``version``
        keeps entries of that NUTS version and entries without a version (None: all versions).
        """
        wanted = set(KINDS if kinds is None else kinds)
        unknown = wanted - set(KINDS)
        if unknown:
            raise ValueError(f"unknown search kind(s) {sorted(unknown)}; expected some of {KINDS}")
        if not query or limit <= 0:
            return []
        text = normalise(query.strip()[:MAX_QUERY])[:MAX_QUERY]
        if not text:
            return []
        code = text.replace(" ", "")
        parts = [
            part
            for (kind, entry_version), part in self._parts.items()
            if kind in wanted and (version is None or entry_version in (None, version))
        ]
        seen: list[set[int]] = [set() for _ in parts]
        found: list[tuple[float, Match, _Part, int]] = []
        # Rule by rule, best first: every part gives its best new entries; once ``limit`` entries
        # are found, no later (lower-scoring) rule can change the result.
        for number, part in enumerate(parts):
            for score, match, index in part.exact(text, code):
                if index not in seen[number] and len(seen[number]) < limit:
                    seen[number].add(index)
                    found.append((score, match, part, index))
        for score, match in ((SCORE_PREFIX, "prefix"), (SCORE_SUBSTRING, "substring")):
            if len(found) >= limit:
                break
            wanted_now = limit - len(found)
            for number, part in enumerate(parts):
                matches = part.prefix(text, code) if match == "prefix" else part.substring(text)
                for index in _take_new(matches, seen[number], wanted_now):
                    found.append((score, match, part, index))
        if len(found) < limit and len(text) >= FUZZY_MIN_LENGTH:
            wanted_now = limit - len(found)
            for number, part in enumerate(parts):
                for fuzzy_score, index in part.fuzzy(text, wanted_now, seen[number]):
                    found.append((fuzzy_score, "fuzzy", part, index))
        hits = [Hit(part.entries[index], float(score), match) for score, match, part, index in found]
        hits.sort(key=lambda hit: (-hit.score, _order_key(hit.entry)))
        return hits[:limit]


def country_name(code: str) -> str:
    """The English name of an EU Member State (Eurostat code), else the code itself."""
    return EU_MEMBER_STATES.get(code, code)


def region_entries(version_names: Mapping[int, pd.Series]) -> list[Entry]:
    """Entries for every region of every NUTS version given: {year: NUTS_ID -> NAME_LATN}.

    Pass ``{year: geodata.nuts.names(year) for year in NUTS_YEARS}``. Key "2021:PL711", label
    "Miasto Łódź (PL711)", detail "NUTS 3 · 2021 · Poland"; found by name and by code, and a
    country (NUTS 0) also by its English name ("Poland" finds "Polska (PL)").
    """
    entries: list[Entry] = []
    for year, names in version_names.items():
        for code, name in names.items():
            code = str(code)
            name = str(name)
            level = len(code) - 2
            country = country_name(code[:2])
            terms = (name, country) if level == 0 and country != code[:2] else (name,)
            entries.append(
                Entry(
                    kind="region",
                    key=f"{year}:{code}",
                    label=f"{name} ({code})",
                    detail=f"NUTS {level} · {year} · {country}",
                    terms=terms,
                    version=int(year),
                    code=code,
                    level=level,
                )
            )
    return entries


def _text(value: object) -> str:
    """A cell as trimmed text; missing values are empty."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return ""
    return str(value).strip()


def company_entries(frame: pd.DataFrame) -> list[Entry]:
    """Entries for the companies and sites of a facilities table the caller may show.

    ``frame`` needs the columns facility_id, company, city and country (Eurostat code). One
    entry per company (companies are told apart by :func:`geodata.companies.normalise_name`,
    so "Acme GmbH" and "ACME G.m.b.H." are one company): key "company:<normalised name>", label
    the most common spelling, found by every spelling. One entry per site: key
    "site:<facility_id>", label "Company — City" (just the company without a city), found by
    company and city names and by its facility id as a code.
    """
    missing = [c for c in ("facility_id", "company", "city", "country") if c not in frame.columns]
    if missing:
        raise ValueError(f"facilities for search need the column(s) {', '.join(missing)}")
    rows = [
        (_text(fid), _text(company), _text(city), _text(country))
        for fid, company, city, country in zip(
            frame["facility_id"], frame["company"], frame["city"], frame["country"], strict=True
        )
    ]
    spellings: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sites: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    entries: list[Entry] = []
    site_ids: set[str] = set()
    for fid, company, city, country in rows:
        if company:
            key = normalise_name(company)
            spellings[key][company] += 1
            sites[key].append((fid, city, country))
        if not fid or fid in site_ids:
            continue  # a repeated facility_id is one site (validation reports the repeat)
        site_ids.add(fid)
        place = ", ".join(part for part in (city, country_name(country) if country else "") if part)
        entries.append(
            Entry(
                kind="site",
                key=f"site:{fid}",
                label=f"{company or fid} — {city}" if city else company or fid,
                detail=f"Site {fid}" + (f" · {place}" if place else ""),
                terms=tuple(term for term in (company, city) if term),
                code=fid,
            )
        )
    for key, counts in spellings.items():
        label = min(counts, key=lambda spelling: (-counts[spelling], spelling))
        count = len({fid for fid, _, _ in sites[key]})
        countries = sorted({country_name(country) for _, _, country in sites[key] if country})
        detail = " · ".join(
            part
            for part in ("Company", f"{count} site{'s' if count != 1 else ''}", ", ".join(countries))
            if part
        )
        entries.append(
            Entry(
                kind="company", key=f"company:{key}", label=label, detail=detail, terms=tuple(sorted(counts))
            )
        )
    return entries


__all__ = [
    "FUZZY_CUTOFF",
    "KINDS",
    "MAX_QUERY",
    "Entry",
    "Hit",
    "Kind",
    "SearchIndex",
    "company_entries",
    "country_name",
    "normalise",
    "normalise_code",
    "region_entries",
]
