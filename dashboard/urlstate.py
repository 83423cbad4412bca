"""The view in the page's URL: the query string holds every choice, so a link opens exactly it.

    ?round=2022&compare=2021&version=2021&level=3&metric=capacity&scheme=quantiles&k=5
     &stage=fill_finish&stage=qc_testing&bottleneck=...&platform=...&country=DE&size=...
     &region=DE212&view=table

:func:`encode` writes only what differs from the defaults, filters as repeated parameters.
:func:`decode` reads anything a browser may be handed: every value goes through the same
parsers as the callbacks' inputs (dashboard.inputs), and whatever is not usable (an unknown
code, level=9, a script fragment, a parameter that does not exist, an oversized query) falls
back to its default with a short notice for the screen. Pure functions; never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from dashboard import inputs
from dashboard.inputs import MapInputs

#: Parameters in the order they are written.
SCALARS = ("round", "compare", "version", "level", "metric", "scheme", "k", "region", "view")
LISTS = inputs.FILTER_KEYS
VIEWS = ("map", "table", "partners", "bottlenecks")
#: Longest query string read (longer ones are refused whole, with a notice).
MAX_QUERY_CHARS = 4000
MAX_FIELDS = 200
MAX_ROUND_CHARS = 200
_REGION = re.compile(r"[A-Z]{2}[A-Z0-9]{0,3}")


@dataclass(frozen=True)
class View:
    """What the page shows: the map inputs, the rounds, the selected region and map or table."""

    inputs: MapInputs = field(default_factory=MapInputs)
    round: str | None = None  # None: the default (newest) round
    compare: str | None = None
    region: str | None = None
    view: str = "map"


def encode(view: View) -> str:
    """The query string of ``view`` ("" for the default view), starting with "?"."""
    got, default = view.inputs, MapInputs()
    pairs: list[tuple[str, str]] = []
    for name, value in (("round", view.round), ("compare", view.compare)):
        if value:
            pairs.append((name, value))
    for name in inputs.SCALAR_KEYS:
        value = getattr(got, name)
        if value != getattr(default, name):
            pairs.append((name, str(value)))
    for name, attribute in zip(
        LISTS, ("stages", "bottlenecks", "platforms", "countries", "sizes"), strict=True
    ):
        pairs += [(name, code) for code in getattr(got, attribute)]
    if view.region:
        pairs.append(("region", view.region))
    if view.view != "map":
        pairs.append(("view", view.view))
    return "?" + urlencode(pairs) if pairs else ""


def decode(search: object, countries: list[str]) -> tuple[View, list[str]]:
    """The view a query string asks for, and a notice per part that could not be used.

    ``countries`` are the round's country codes (the only ones a country filter may hold)."""
    if search is None or search == "" or search == "?":
        return View(), []
    if not isinstance(search, str):
        return View(), ["Ignored the address's query (not text); showing the default view."]
    if len(search) > MAX_QUERY_CHARS:
        return View(), [
            f"Ignored the address's query (over {MAX_QUERY_CHARS} characters); showing the default view."
        ]
    try:
        pairs = parse_qsl(search.removeprefix("?"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        return View(), [
            f"Ignored the address's query (over {MAX_FIELDS} parameters); showing the default view."
        ]
    notices: list[str] = []
    scalars: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for name, value in pairs:
        if name in LISTS:
            lists.setdefault(name, []).append(value)
        elif name in SCALARS:
            if name in scalars:
                notices.append(f"Ignored a second {name} in the address (used the first)")
            else:
                scalars.setdefault(name, value)
        else:
            notices.append(
                f"Ignored unknown parameter {inputs.clip(name, inputs.ECHO_CHARS)!r} in the address"
            )
    raw: dict[str, object] = {k: v for k, v in scalars.items() if k in inputs.SCALAR_KEYS}
    raw.update(lists)
    got, more = inputs.parse_map_inputs(raw, countries)
    notices += more
    round_, compare = (_round(name, scalars.get(name), notices) for name in ("round", "compare"))
    region = scalars.get("region")
    if region is not None and not (len(region) <= 5 and _REGION.fullmatch(region)):
        notices.append(f"Ignored region {inputs.clip(region, inputs.ECHO_CHARS)!r} (not a NUTS code)")
        region = None
    view = scalars.get("view", "map")
    if view not in VIEWS:
        notices.append(f"Ignored view {inputs.clip(view, inputs.ECHO_CHARS)!r} (used the map)")
        view = "map"
    return View(got, round_, compare, region or None, view), notices


def _round(name: str, value: str | None, notices: list[str]) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > MAX_ROUND_CHARS or any(
        ord(c) < 32 or ord(c) == 127 for c in value
    ):  # as the store's names
        notices.append(f"Ignored {name} round {inputs.clip(value, inputs.ECHO_CHARS)!r} (not a round name)")
        return None
    return value
