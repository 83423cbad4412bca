"""What every callback checks first: who is signed in, and which published round it asks for.

Both stop the callback (``PreventUpdate``: nothing is computed, nothing is sent) when there is
no answer: no role (the sign-in guard answers such requests first), or no published round.
"""

from __future__ import annotations

from dash.exceptions import PreventUpdate

from dashboard import auth
from dashboard.data import Atlas, AtlasData, NoPublishedRound


def signed_in_role() -> str:
    """The signed-in role; a request without one never gets here (the sign-in guard), but if it
    does, nothing is computed for it."""
    role = auth.current_role()
    if role is None:
        raise PreventUpdate
    return role


def chosen_round(atlas: Atlas, value: object) -> tuple[AtlasData, list[str]]:
    """The published round the page asks for (or the default, with a notice)."""
    try:
        data, notice = atlas.resolve(value)
    except NoPublishedRound:
        raise PreventUpdate from None
    return data, [notice] if notice else []
