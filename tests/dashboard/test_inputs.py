"""dashboard.inputs: the callback parsers on hand-written values, a property test, and harden()
on a small Flask app and a small Dash app (Flask's test client, no browser)."""

from __future__ import annotations

import json
import logging

import pytest
from dash import Dash, Input, Output, html
from dash.exceptions import PreventUpdate
from flask import Flask, request
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import hardening, inputs
from dashboard.inputs import (
    MapInputs,
    parse_codes,
    parse_k,
    parse_level,
    parse_map_inputs,
    parse_metric,
    parse_scheme,
    parse_version,
    region_code,
)
from geodata import vocab
from geodata.aggregate import Filters

COUNTRIES = ["DE", "EL", "FR"]
MEGA = "x" * (1 << 20)  # 1 MB

# --- the parsers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2021, (2021, None)),
        (2024, (2024, None)),
        ("2024", (2024, None)),
        (1999, (2021, "Ignored NUTS version 1999 (used 2021)")),
        ("1999", (2021, "Ignored NUTS version '1999' (used 2021)")),
        (2024.0, (2021, "Ignored NUTS version 2024.0 (used 2021)")),
        (True, (2021, "Ignored NUTS version true (used 2021)")),
        (None, (2021, "No NUTS version given (used 2021)")),
        (" 2024", (2021, "Ignored NUTS version ' 2024' (used 2021)")),
        ("２０２４", (2021, "Ignored NUTS version '２０２４' (used 2021)")),  # full-width digits
        ([2024], (2021, "Ignored NUTS version […] (used 2021)")),
        (10**60, (2021, "Ignored NUTS version a number too long to show (used 2021)")),
    ],
)
def test_parse_version(value: object, expected: tuple[int, str | None]) -> None:
    assert parse_version(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, (0, None)),
        (3, (3, None)),
        ("2", (2, None)),
        ("x", (2, "Ignored NUTS level 'x' (used 2)")),
        (9, (2, "Ignored NUTS level 9 (used 2)")),
        (-1, (2, "Ignored NUTS level -1 (used 2)")),
        (3.0, (2, "Ignored NUTS level 3.0 (used 2)")),
        (False, (2, "Ignored NUTS level false (used 2)")),
        ({"level": 3}, (2, "Ignored NUTS level {…} (used 2)")),
    ],
)
def test_parse_level(value: object, expected: tuple[int, str | None]) -> None:
    assert parse_level(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, (3, None)),
        ("7", (7, None)),
        (8, (5, "Ignored number of classes 8 (used 5)")),
        ("abc", (5, "Ignored number of classes 'abc' (used 5)")),
        (float("nan"), (5, "Ignored number of classes nan (used 5)")),
    ],
)
def test_parse_k(value: object, expected: tuple[int, str | None]) -> None:
    assert parse_k(value) == expected


def test_parse_metric_and_scheme() -> None:
    assert parse_metric("capacity") == ("capacity", None)
    assert parse_metric("nope") == ("facilities", "Ignored unknown metric 'nope' (used Sites)")
    assert parse_metric(None) == ("facilities", "No metric given (used Sites)")
    assert parse_metric(["capacity"]) == ("facilities", "Ignored unknown metric […] (used Sites)")
    assert parse_scheme("natural_breaks") == ("natural_breaks", None)
    assert parse_scheme("Quantiles") == (
        "quantiles",
        "Ignored unknown classification 'Quantiles' (used Quantiles)",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ((), None)),
        ([], ((), None)),
        (["fill_finish", "drug_substance"], (("drug_substance", "fill_finish"), None)),
        (["fill_finish", "fill_finish"], (("fill_finish",), None)),
        ("fill_finish", (("fill_finish",), None)),
        (["nope"], ((), "Ignored unknown stage code 'nope' (shown: all stages)")),
        (
            ["fill_finish", "nope"],
            (("fill_finish",), "Ignored unknown stage code 'nope' (shown: the other selected stages)"),
        ),
        (["nope", 1, None], ((), "Ignored 3 unknown stage codes, e.g. 'nope' (shown: all stages)")),
        ([["fill_finish"]], ((), "Ignored unknown stage code […] (shown: all stages)")),
        (["Fill & finish"], ((), "Ignored unknown stage code 'Fill & finish' (shown: all stages)")),
        (7, ((), "Ignored stage selection 7 (shown: all stages)")),
        ({"a": 1}, ((), "Ignored stage selection {…} (shown: all stages)")),
        (["services"] * 11, ((), "Ignored stage selection of more than 10 codes (shown: all stages)")),
    ],
)
def test_parse_codes(value: object, expected: tuple[tuple[str, ...], str | None]) -> None:
    assert parse_codes("stage", value, vocab.STAGES) == expected


def test_parse_codes_country_words() -> None:
    assert parse_codes("country", ["DE", "de", "XX"], COUNTRIES) == (
        ("DE",),
        "Ignored 2 unknown country codes, e.g. 'de' (shown: the other selected countries)",
    )
    assert parse_codes("country", [1], COUNTRIES) == (
        (),
        "Ignored unknown country code 1 (shown: all countries)",
    )


def test_long_and_unprintable_values_are_cut_in_notices() -> None:
    codes, notice = parse_codes("stage", [MEGA], vocab.STAGES)
    assert codes == ()
    assert notice == f"Ignored unknown stage code '{'x' * 40}…' (shown: all stages)"
    _version, notice = parse_version("<b>\n\x1b[31m\u202e" + "y" * 100)
    assert notice == f"Ignored NUTS version '<b>??[31m?{'y' * 30}…' (used 2021)"
    # a code-like string just over the code limit is not looked up at all
    assert parse_metric("capacity" + " " * 60)[0] == "facilities"


def test_parse_map_inputs_what_the_attacker_sent() -> None:
    raw = {
        "version": 1999,
        "level": "x",
        "metric": "nope",
        "scheme": "quantiles",
        "k": "abc",
        "stage": ["nope"],
        "bottleneck": None,
        "platform": ["mrna", "mrna"],
        "country": [1],
        "size": MEGA,
        "unknown-key": MEGA,
    }
    got, notices = parse_map_inputs(raw, COUNTRIES)
    assert got == MapInputs(platforms=("mrna",))
    assert notices == [
        "Ignored NUTS version 1999 (used 2021)",
        "Ignored NUTS level 'x' (used 2)",
        "Ignored unknown metric 'nope' (used Sites)",
        "Ignored number of classes 'abc' (used 5)",
        "Ignored unknown stage code 'nope' (shown: all stages)",
        "Ignored unknown country code 1 (shown: all countries)",
        f"Ignored unknown company size code '{'x' * 40}…' (shown: all company sizes)",
    ]


def test_parse_map_inputs_good_values_and_missing_keys() -> None:
    raw = {"version": "2024", "level": 3, "metric": "capacity", "k": 7, "country": ["FR", "DE"], "size": []}
    assert parse_map_inputs(raw, COUNTRIES) == (
        MapInputs(version=2024, level=3, metric="capacity", k=7, countries=("DE", "FR")),
        [],
    )
    assert parse_map_inputs({}, []) == (MapInputs(), [])
    assert parse_map_inputs({"version": None}, []) == (MapInputs(), ["No NUTS version given (used 2021)"])
    # the dataset's list decides which countries exist; malformed entries in it are never allowed
    assert parse_map_inputs({"country": ["PL"]}, ["PL", "pl", "XXX"])[0].countries == ("PL",)
    assert parse_map_inputs({"country": ["pl"]}, ["pl"])[0].countries == ()


def test_defaults() -> None:
    got = MapInputs()
    assert (got.version, got.level, got.metric, got.scheme, got.k) == (2021, 2, "facilities", "quantiles", 5)
    assert (got.stages, got.bottlenecks, got.platforms, got.countries, got.sizes) == ((), (), (), (), ())


@pytest.mark.parametrize(
    "bad",
    [
        {"version": 1999},
        {"level": True},
        {"level": 2.0},
        {"metric": "nope"},
        {"scheme": "jenks"},
        {"k": 9},
        {"stages": ("nope",)},
        {"stages": ["fill_finish"]},
        {"platforms": ("mrna", "mrna")},
        {"sizes": ("small", "large")},  # not sorted
        {"countries": ("de",)},
    ],
)
def test_map_inputs_refuses_invalid_fields(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        MapInputs(**bad)  # type: ignore[arg-type]


def test_filters_from_inputs() -> None:
    got, _ = parse_map_inputs(
        {"stage": ["fill_finish"], "bottleneck": ["vials_stoppers"], "country": ["EL"], "size": ["small"]},
        COUNTRIES,
    )
    assert inputs.filters_from_inputs(got) == Filters(
        stages=("fill_finish",), bottlenecks=("vials_stoppers",), countries=("EL",), sizes=("small",)
    )
    assert inputs.filters_from_inputs(MapInputs()) == Filters()


@pytest.mark.parametrize(
    ("feature", "expected"),
    [
        ({"type": "Feature", "properties": {"id": "DE111", "name": "Kreis West"}}, "DE111"),
        ({"properties": {"id": "FR"}}, "FR"),
        ({"properties": {"id": "de111"}}, None),
        ({"properties": {"id": "DE1111"}}, None),
        ({"properties": {"id": MEGA}}, None),
        ({"properties": {"id": 5}}, None),
        ({"properties": "DE1"}, None),
        ({"id": "DE1"}, None),
        ("DE1", None),
        (None, None),
    ],
)
def test_region_code(feature: object, expected: str | None) -> None:
    assert region_code(feature) == expected


# --- property: anything JSON can carry -------------------------------------------------------------

_CODES = [*vocab.STAGES, *vocab.BOTTLENECKS, *vocab.PLATFORMS, *vocab.COMPANY_SIZES, *vocab.METRICS]
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**80), max_value=10**80)
    | st.floats()
    | st.text(max_size=120)
    | st.sampled_from([*_CODES, "2", "2021", "2024", "DE", "FR", "quantiles", "natural_breaks"])
)
JSON_VALUES = st.recursive(
    _LEAVES,
    lambda children: (
        st.lists(children, max_size=25) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=40,
)
RAW = st.dictionaries(
    st.sampled_from([*inputs.SCALAR_KEYS, *inputs.FILTER_KEYS]) | st.text(max_size=6), JSON_VALUES
)
COUNTRY_LISTS = st.lists(
    st.sampled_from(["DE", "FR", "EL", "de", "XXX", ""]) | st.text(max_size=3), max_size=8
)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return []


@settings(max_examples=300, deadline=None)
@given(raw=RAW, countries=COUNTRY_LISTS)
def test_parse_map_inputs_accepts_anything_and_returns_only_codes(
    raw: dict[str, object], countries: list[str]
) -> None:
    got, notices = parse_map_inputs(raw, countries)
    assert got.version in vocab.NUTS_YEARS and got.level in vocab.NUTS_LEVELS
    assert got.metric in vocab.METRICS and got.scheme in inputs.SCHEMES and 3 <= got.k <= 7
    assert set(got.stages) <= set(vocab.STAGES) and set(got.bottlenecks) <= set(vocab.BOTTLENECKS)
    assert set(got.platforms) <= set(vocab.PLATFORMS) and set(got.sizes) <= set(vocab.COMPANY_SIZES)
    assert set(got.countries) <= set(countries) and all(len(c) == 2 and c.isupper() for c in got.countries)
    assert len(notices) <= len(inputs.SCALAR_KEYS) + len(inputs.FILTER_KEYS)
    for notice in notices:
        assert isinstance(notice, str) and notice.isprintable() and len(notice) <= 160
        for sent in _strings(raw):
            windows = {sent[i : i + inputs.ECHO_CHARS + 1] for i in range(len(sent) - inputs.ECHO_CHARS)}
            assert not any(w in notice for w in windows)
    # what comes out goes back in unchanged and without a notice
    again = {
        "version": got.version,
        "level": got.level,
        "metric": got.metric,
        "scheme": got.scheme,
        "k": got.k,
        "stage": list(got.stages),
        "bottleneck": list(got.bottlenecks),
        "platform": list(got.platforms),
        "country": list(got.countries),
        "size": list(got.sizes),
    }
    assert parse_map_inputs(again, countries) == (got, [])


# --- harden(): a small Flask app -------------------------------------------------------------------


@pytest.fixture
def flask_app() -> Flask:
    app = Flask("hardened")
    app.testing = True  # PROPAGATE_EXCEPTIONS is implied: the handlers must answer all the same

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("database password is hunter2 " + MEGA)

    @app.route("/api/boom")
    def api_boom() -> str:
        raise KeyError(MEGA)

    @app.route("/echo", methods=["POST"])
    @app.route("/api/echo", methods=["POST"])
    def echo() -> str:
        return str(len(request.get_data()))

    @app.route("/bad")
    def bad() -> str:
        return request.args["missing"]  # BadRequestKeyError: a 400

    hardening.harden(app)
    return app


def _json_error(response, status: int) -> dict[str, str]:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "request_id"}
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert len(response.data) < 300
    return body


def test_harden_sets_the_body_limit(flask_app: Flask) -> None:
    assert flask_app.config["MAX_CONTENT_LENGTH"] == 256 * 1024
    assert flask_app.test_client().post("/echo", data=b"a" * 1000).text == "1000"
    with pytest.raises(ValueError):
        hardening.harden(Flask("x"), max_body=0)
    with pytest.raises(ValueError, match="already"):
        hardening.harden(flask_app)


def test_too_large_body_gives_413(flask_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    client = flask_app.test_client()
    big = b"{" + b" " * (32 << 20) + b"}"  # 32 MB
    body = _json_error(client.post("/api/echo", data=big), 413)
    assert body["error"] == "The request body is larger than this server accepts."
    _json_error(client.post("/_dash-update-component", data=big, content_type="application/json"), 413)
    page = client.post("/echo", data=big, headers={"Accept": "text/html"})
    assert page.status_code == 413 and page.mimetype == "text/html"
    assert "Request too large" in page.text and page.headers["X-Request-ID"] in page.text
    assert len(page.data) < 400


def test_uncaught_exception_gives_500_without_traceback(
    flask_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = flask_app.test_client()
    with caplog.at_level(logging.INFO, logger="dashboard.hardening"):
        response = client.get("/api/boom", headers={"X-Request-ID": "req-42"})
        page = client.get("/boom", headers={"Accept": "text/html"})
    body = _json_error(response, 500)
    assert body == {
        "error": "Something went wrong on the server; the administrators can find it in the log.",
        "request_id": "req-42",
    }
    assert page.status_code == 500 and page.mimetype == "text/html" and len(page.data) < 500
    for text in (response.text, page.text):
        assert "Traceback" not in text and "hunter2" not in text and "xxxx" not in text and ".py" not in text
    assert len(caplog.records) == 2
    line = caplog.records[0].getMessage()
    assert "request_id=req-42" in line and "path=/api/boom" in line and "status=500" in line
    assert "exception=KeyError" in line and "at=test_inputs.py:" in line
    assert "\n" not in line and len(line) < 400
    line = caplog.records[1].getMessage()
    assert "exception=RuntimeError" in line and "hunter2" in line and len(line) < 400  # the message, cut


def test_request_ids_and_paths_are_cut_in_the_log(flask_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    client = flask_app.test_client()
    with caplog.at_level(logging.INFO, logger="dashboard.hardening"):
        response = client.get("/api/boom/" + "p" * 5000, headers={"X-Request-ID": "evil\u2028id"})
        not_found = client.get("/nowhere")
        bad = client.get("/bad")
    assert response.status_code == 404 and not_found.status_code == 404  # other errors as before
    assert bad.status_code == 400 and "missing" not in bad.text
    assert "X-Request-ID" in bad.headers and len(bad.headers["X-Request-ID"]) == 16
    assert [r.getMessage().count("p" * 201) for r in caplog.records] == [0]  # only the 400 is logged


# --- harden() + callback_error_handler on a small Dash app -----------------------------------------


def _dash_app(on_error: bool, max_body: int = 256 * 1024) -> Dash:
    app = Dash("hardened_dash", on_error=hardening.callback_error_handler if on_error else None)
    app.layout = html.Div([html.Div(id="in"), html.Div(id="out"), html.Div(id="out2")])

    @app.callback(Output("out", "children"), Output("out2", "children"), Input("in", "children"))
    def update(value: object) -> tuple[str, str]:
        if value == "stop":
            raise PreventUpdate
        if isinstance(value, str) and value.startswith("x"):
            raise ValueError(f"cannot use {value}")
        return f"got {value}", "ok"

    hardening.harden(app.server, max_body=max_body)
    return app


def _body(value: object = "a", **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "output": "..out.children...out2.children..",
        "outputs": [{"id": "out", "property": "children"}, {"id": "out2", "property": "children"}],
        "inputs": [{"id": "in", "property": "children", "value": value}],
        "changedPropIds": ["in.children"],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def _post(client, body: object):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post("/_dash-update-component", data=data, content_type="application/json")


@pytest.fixture
def dash_client():
    return _dash_app(on_error=True).server.test_client()


@pytest.fixture
def roomy_dash_client():
    """Accepts 4 MB bodies, so that a 1 MB value reaches the callback."""
    return _dash_app(on_error=True, max_body=4 << 20).server.test_client()


def test_valid_callback_request(dash_client) -> None:
    response = _post(dash_client, _body("a"))
    assert response.status_code == 200
    assert response.get_json()["response"] == {"out": {"children": "got a"}, "out2": {"children": "ok"}}
    assert _post(dash_client, _body("stop")).status_code == 204  # PreventUpdate as Dash answers it


MALFORMED = {
    "not json": b"level=x&k=abc",
    "truncated json": b'{"output": "out.children", "inputs": [',
    "a list": [],
    "a number": 3,
    "no output": _body(output=None),
    "output not text": _body(output=["out.children"]),
    "no inputs": _body(inputs=None),
    "inputs an object": _body(inputs={"id": "in"}),
    "inputs of numbers": _body(inputs=[1, 2]),
    "input id a number": _body(inputs=[{"id": 5, "property": "children", "value": 1}]),
    "input without property": _body(inputs=[{"id": "in", "value": 1}]),
    "input id too long": _body(inputs=[{"id": MEGA[:300], "property": "children"}]),
    "too many inputs": _body(inputs=[{"id": "in", "property": "children", "value": 1}] * 65),
    "state not a list": _body(state="x"),
    "outputs of text": _body(outputs=["out.children"]),
    "changed ids not text": _body(changedPropIds=[{"a": 1}]),
    "huge number": (
        '{"output": "..out.children...out2.children..", "outputs": [], "inputs": [{"id": "in", '
        '"property": "children", "value": ' + "9" * 5000 + "}]}"
    ),
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "unknown output": _body(output="nowhere.children", outputs={"id": "nowhere", "property": "children"}),
    "missing input": _body(inputs=[]),
    "extra input": _body(inputs=[{"id": "in", "property": "children", "value": 1}] * 2),
    "outputs missing": _body(outputs=None),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_callback_requests_give_400(dash_client, name: str, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="dashboard.hardening"):
        response = _post(dash_client, MALFORMED[name])
    body = _json_error(response, 400)
    assert body["error"].startswith("Bad")
    assert len(caplog.records) == 1 and len(caplog.records[0].getMessage()) < 400


def test_callback_exception_keeps_the_page_and_logs_one_short_line(roomy_dash_client, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="dashboard.hardening"):
        response = _post(roomy_dash_client, _body("x" + MEGA))
    assert response.status_code == 200
    assert response.get_json() == {"multi": True, "response": {}}  # no output changes
    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert line.startswith("callback ..out.children...out2.children.. failed")
    assert "exception=ValueError" in line and "message='cannot use xxx" in line
    assert MEGA[: hardening.MESSAGE_CHARS] not in line and len(line) < 400


def test_callback_exception_without_on_error_gives_500_json(caplog) -> None:
    client = _dash_app(on_error=False, max_body=4 << 20).server.test_client()
    with caplog.at_level(logging.INFO, logger="dashboard.hardening"):
        response = _post(client, _body("x" + MEGA))
    body = _json_error(response, 500)
    assert "xxxx" not in response.text and "Traceback" not in response.text
    assert body["error"].startswith("Something went wrong")
    (record,) = caplog.records
    line = record.getMessage()
    assert "exception=ValueError" in line and MEGA[: hardening.MESSAGE_CHARS] not in line and len(line) < 400
