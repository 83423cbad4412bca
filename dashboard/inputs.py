"""Every callback input checked before use: raw browser values parsed into vocabulary codes.

Callback values arrive from the browser and anyone can post anything in their place, so the
parsers here turn raw values into :class:`MapInputs`, which holds only codes of the vocabulary
(geodata.vocab, layers.classify). A bad value never raises: it falls back to the default (or
is dropped from a selection) and yields a short, plain-text notice for the status line that
echoes at most :data:`ECHO_CHARS` characters of what was sent. Pure functions only; the Flask
server's request checks and error answers are in dashboard.hardening. No I/O happens at import time.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from geodata import vocab
from geodata.aggregate import Filters
from layers.classify import DEFAULT_K, DEFAULT_SCHEME, K_RANGE, SCHEMES

_T = TypeVar("_T")

DEFAULT_VERSION = 2021
DEFAULT_LEVEL = 2
DEFAULT_METRIC = "facilities"
#: Keys of the raw dict given to parse_map_inputs (the callbacks' names for the inputs).
SCALAR_KEYS = ("version", "level", "metric", "scheme", "k")
FILTER_KEYS = ("stage", "bottleneck", "platform", "country", "size")
#: At most this many characters of a bad value appear in a notice.
ECHO_CHARS = 40
#: Longer strings are never a code (the longest code has 22 characters).
MAX_CODE_CHARS = 64
#: Longest digit string read as a number for version, level and k ("2021").
_MAX_DIGITS = 4

_COUNTRY = re.compile(r"[A-Z]{2}")
_DIGITS = re.compile(rf"[0-9]{{1,{_MAX_DIGITS}}}")
_NUTS_CODE = re.compile(r"[A-Z]{2}[A-Z0-9]{0,3}")


# --- validated inputs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MapInputs:
    """What the map shows, every field a valid code; build it with :func:`parse_map_inputs`.

    ``version`` and ``level`` are a NUTS version (year) and level, ``metric`` a code of
    vocab.METRICS, ``scheme``/``k`` the classification (layers.classify); each filter tuple holds
    sorted distinct codes, empty meaning all. Countries are Eurostat codes (two capital letters).
    Constructing one with anything else raises ValueError.
    """

    version: int = DEFAULT_VERSION
    level: int = DEFAULT_LEVEL
    metric: str = DEFAULT_METRIC
    scheme: str = DEFAULT_SCHEME
    k: int = DEFAULT_K
    stages: tuple[str, ...] = ()
    bottlenecks: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_choice("version", self.version, vocab.NUTS_YEARS)
        _check_choice("level", self.level, vocab.NUTS_LEVELS)
        _check_choice("metric", self.metric, tuple(vocab.METRICS))
        _check_choice("scheme", self.scheme, tuple(SCHEMES))
        _check_choice("k", self.k, tuple(range(K_RANGE[0], K_RANGE[1] + 1)))
        _check_codes("stages", self.stages, vocab.STAGES)
        _check_codes("bottlenecks", self.bottlenecks, vocab.BOTTLENECKS)
        _check_codes("platforms", self.platforms, vocab.PLATFORMS)
        _check_codes("countries", self.countries, None)
        _check_codes("sizes", self.sizes, vocab.COMPANY_SIZES)


def _check_choice(name: str, value: object, allowed: tuple[object, ...]) -> None:
    # type() rather than isinstance: True is an int, and 2.0 == 2, but neither is a level
    if not any(type(value) is type(a) and value == a for a in allowed):
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}; got {_echo(value)}")


def _check_codes(name: str, values: object, allowed: Collection[str] | None) -> None:
    """``values`` must be a sorted tuple of distinct codes of ``allowed`` (None: country codes)."""
    ok = (
        isinstance(values, tuple)
        and all(
            isinstance(v, str)
            and (v in allowed if allowed is not None else _COUNTRY.fullmatch(v) is not None)
            for v in values
        )
        and list(values) == sorted(set(values))
    )
    if not ok:
        raise ValueError(f"{name} must be a sorted tuple of distinct valid codes; got {_echo(values)}")


def parse_map_inputs(raw: Mapping[str, object], countries: Sequence[str]) -> tuple[MapInputs, list[str]]:
    """Validate raw callback values into MapInputs, with one notice per input that was not usable.

    ``raw`` maps the names of :data:`SCALAR_KEYS` and :data:`FILTER_KEYS` to what the browser
    sent; a missing name means its default, silently (other names are ignored). ``countries``
    are the dataset's country codes, the only ones a country selection may hold. Never raises.
    """
    notices: list[str] = []

    def pick(key: str, parsed: tuple[_T, str | None]) -> _T:
        value, notice = parsed
        if notice is not None and key in raw:
            notices.append(notice)
        return value

    known = [c for c in countries if isinstance(c, str) and _COUNTRY.fullmatch(c)]
    result = MapInputs(
        version=pick("version", parse_version(raw.get("version"))),
        level=pick("level", parse_level(raw.get("level"))),
        metric=pick("metric", parse_metric(raw.get("metric"))),
        scheme=pick("scheme", parse_scheme(raw.get("scheme"))),
        k=pick("k", parse_k(raw.get("k"))),
        stages=pick("stage", parse_codes("stage", raw.get("stage"), vocab.STAGES)),
        bottlenecks=pick("bottleneck", parse_codes("bottleneck", raw.get("bottleneck"), vocab.BOTTLENECKS)),
        platforms=pick("platform", parse_codes("platform", raw.get("platform"), vocab.PLATFORMS)),
        countries=pick("country", parse_codes("country", raw.get("country"), known)),
        sizes=pick("size", parse_codes("company size", raw.get("size"), vocab.COMPANY_SIZES)),
    )
    return result, notices


def filters_from_inputs(inputs: MapInputs) -> Filters:
    """The aggregation filters of validated inputs (codes only, as MapInputs guarantees)."""
    return Filters(
        stages=inputs.stages,
        bottlenecks=inputs.bottlenecks,
        platforms=inputs.platforms,
        countries=inputs.countries,
        sizes=inputs.sizes,
    )


# --- the parsers: (valid value, notice or None) ---------------------------------------------------


def parse_version(value: object) -> tuple[int, str | None]:
    """A NUTS version of vocab.NUTS_YEARS (int, or its digits as text); else 2021 and a notice."""
    return _parse_int("NUTS version", value, vocab.NUTS_YEARS, DEFAULT_VERSION)


def parse_level(value: object) -> tuple[int, str | None]:
    """A NUTS level of vocab.NUTS_LEVELS (int, or its digit as text); else 2 and a notice."""
    return _parse_int("NUTS level", value, vocab.NUTS_LEVELS, DEFAULT_LEVEL)


def parse_k(value: object) -> tuple[int, str | None]:
    """A number of classes within layers.classify.K_RANGE (int or digits); else DEFAULT_K and a notice."""
    return _parse_int("number of classes", value, range(K_RANGE[0], K_RANGE[1] + 1), DEFAULT_K)


def parse_metric(value: object) -> tuple[str, str | None]:
    """A metric code of vocab.METRICS; else "facilities" and a notice."""
    return _parse_code("metric", value, vocab.METRICS, DEFAULT_METRIC, vocab.METRICS[DEFAULT_METRIC][0])


def parse_scheme(value: object) -> tuple[str, str | None]:
    """A classification scheme of layers.classify.SCHEMES; else DEFAULT_SCHEME and a notice."""
    return _parse_code("classification", value, SCHEMES, DEFAULT_SCHEME, SCHEMES[DEFAULT_SCHEME])


def parse_codes(name: str, value: object, allowed: Collection[str]) -> tuple[tuple[str, ...], str | None]:
    """The valid codes of a multi-select ``value`` (a list of codes; None or [] means all).

    ``name`` is what the user calls one code ("stage", "company size"). Unknown codes, non-text
    items and text over MAX_CODE_CHARS are dropped; a value that is not a list (a single code
    string counts as a list of one), or a list longer than ``allowed``, is dropped whole. Returns
    the sorted distinct codes kept and, when anything was dropped, a notice naming the input.
    """
    plural = name[:-1] + "ies" if name.endswith("y") else name + "s"
    if value is None:
        return (), None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return (), f"Ignored {name} selection {_echo(value)} (shown: all {plural})"
    if len(value) > len(allowed):
        return (), f"Ignored {name} selection of more than {len(allowed)} codes (shown: all {plural})"
    kept = sorted({v for v in value if isinstance(v, str) and len(v) <= MAX_CODE_CHARS and v in allowed})
    bad = [v for v in value if not (isinstance(v, str) and len(v) <= MAX_CODE_CHARS and v in allowed)]
    if not bad:
        return tuple(kept), None
    shown = f"all {plural}" if not kept else f"the other selected {plural}"
    if len(bad) == 1:
        return tuple(kept), f"Ignored unknown {name} code {_echo(bad[0])} (shown: {shown})"
    return tuple(kept), f"Ignored {len(bad)} unknown {name} codes, e.g. {_echo(bad[0])} (shown: {shown})"


def region_code(feature: object) -> str | None:
    """The NUTS code of a hovered/clicked region feature (``properties.id``), None unless valid."""
    if not isinstance(feature, dict):
        return None
    properties = feature.get("properties")
    code = properties.get("id") if isinstance(properties, dict) else None
    if isinstance(code, str) and len(code) <= 5 and _NUTS_CODE.fullmatch(code):
        return code
    return None


def _parse_int(what: str, value: object, allowed: Collection[int], default: int) -> tuple[int, str | None]:
    number: int | None = None
    if type(value) is int:
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    if number is not None and number in allowed:
        return number, None
    if value is None:
        return default, f"No {what} given (used {default})"
    return default, f"Ignored {what} {_echo(value)} (used {default})"


def _parse_code(
    what: str, value: object, allowed: Collection[str], default: str, default_label: str
) -> tuple[str, str | None]:
    if isinstance(value, str) and len(value) <= MAX_CODE_CHARS and value in allowed:
        return value, None
    if value is None:
        return default, f"No {what} given (used {default_label})"
    return default, f"Ignored unknown {what} {_echo(value)} (used {default_label})"


def _echo(value: object) -> str:
    """A bad value for a notice: at most ECHO_CHARS characters of it, printable, JSON-like."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**ECHO_CHARS else "a number too long to show"
    if isinstance(value, float):
        return clip(repr(value), ECHO_CHARS)
    if isinstance(value, str):
        return f"'{clip(value, ECHO_CHARS)}'"
    if isinstance(value, list | tuple):
        return "[…]"
    if isinstance(value, dict):
        return "{…}"
    return type(value).__name__


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (marked …), anything unprintable shown as '?'."""
    head = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return head + "…" if len(text) > limit else head
