"""A callback that fails tells the user, with the request id of the log line."""

from __future__ import annotations

import json
import logging

import pytest
from dash import Dash, Input, Output, html

from dashboard import hardening, serving_log


def test_a_failed_callback_shows_the_request_id_the_log_line_carries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Dash("failing", on_error=hardening.callback_errors(shown_in="notice"))
    app.layout = html.Div([html.Div(id="in"), html.Div(id="out"), html.Div(id="notice")])

    @app.callback(Output("out", "children"), Input("in", "children"))
    def update(value: object) -> str:
        raise RuntimeError("the database went away")

    hardening.harden(app.server)
    serving_log.install(app.server)
    body = {
        "output": "out.children",
        "outputs": {"id": "out", "property": "children"},
        "inputs": [{"id": "in", "property": "children", "value": "a"}],
        "changedPropIds": ["in.children"],
    }
    with caplog.at_level(logging.ERROR, logger="dashboard.hardening"):
        answer = app.server.test_client().post(
            "/_dash-update-component", data=json.dumps(body), content_type="application/json"
        )
    rid = answer.headers["X-Request-ID"]
    shown = answer.get_json()["sideUpdate"]["notice"]["children"]
    assert f"reference {rid}" in shown and "database" not in shown
    assert "out" not in answer.get_json().get("response", {})  # the page keeps what it shows
    (record,) = caplog.records
    assert f"request_id={rid}" in record.getMessage() and "exception=RuntimeError" in record.getMessage()
