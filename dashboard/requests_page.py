"""The officials' queue of introduction requests (/requests): who asked to meet which site's
company for what, and the official's answer (accept, decline, done), as the 2021 matchmaking
event's organisers brokered contacts. Officials only (403 for anyone else, like /import);
state changes are CSRF-protected forms and are written to the audit log.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from flask import Flask, Response, abort, redirect, request
from flask.typing import ResponseReturnValue

from dashboard import audit, auth
from dashboard.data import Atlas
from dashboard.exports import to_csv_bytes
from dashboard.imports import _render
from geodata import partners
from geodata.store import StoreError
from geodata.store.models import REQUEST_MOVES

PATH = "/requests"
ACTIVE = ("open", "accepted")
MOVE_LABELS = {"accepted": "Accept", "declined": "Decline", "done": "Done", "open": "Reopen"}


def queue(atlas: Atlas, show_all: bool) -> pd.DataFrame:
    """Every request (or the open and accepted ones), with the site's company and whether the
    company agreed to be contacted, looked up in the request's round."""
    table = atlas.store.introduction_requests()
    if not show_all:
        table = table[table["status"].isin(ACTIVE)]
    companies: dict[tuple[str, str], tuple[str, bool]] = {}
    for round_name in table["round"].unique():
        try:
            facilities = atlas.store.facilities(str(round_name))
        except StoreError:
            continue
        consent = facilities["contact_consent"].astype("boolean").fillna(False)
        for fid, company, ok in zip(facilities["facility_id"], facilities["company"], consent, strict=True):
            companies[(str(round_name), str(fid))] = (str(company), bool(ok))
    found = [companies.get((str(r), str(f)), ("(site not in the round)", False))
             for r, f in zip(table["round"], table["facility_id"], strict=True)]  # fmt: skip
    out = table.copy()
    out["company"] = [c for c, _ok in found]
    out["contact_consent"] = [ok for _c, ok in found]
    return out.reset_index(drop=True)


def register(server: Flask, atlas: Atlas) -> None:
    """Add /requests (the queue), /requests/<id>/<status> (a move) and /requests.csv."""

    @server.before_request
    def officials_only() -> ResponseReturnValue | None:
        if request.path != PATH and not request.path.startswith((PATH + "/", PATH + ".")):
            return None
        role = auth.current_role()
        if role is None:
            return None  # the sign-in guard (registered first) has answered already
        if role != "official":
            audit.record("refused", f"{request.method} {request.path[:200]}")
            abort(403)
        return None

    def page(message: str | None = None, kind: str = "info", status: int = 200) -> ResponseReturnValue:
        showing = "all" if request.args.get("show") == "all" else "active"
        table = queue(atlas, showing == "all")
        rows = [
            {
                "id": int(r["id"]),
                "created": f"{r['created_at']:%d %b %Y %H:%M} UTC",
                "requester": r["requester"],
                "requester_role": r["requester_role"],
                "need": partners.need_label(str(r["need"])),
                "site": f"{r['company']} · {r['facility_id']} · round {r['round']}",
                "contact": "may be contacted" if r["contact_consent"] else "no consent: through its cluster",
                "message": r["message"],
                "status": r["status"],
                "handled_by": r["handled_by"] if isinstance(r["handled_by"], str) else "",
                "moves": REQUEST_MOVES.get(str(r["status"]), ()),
            }
            for r in table.to_dict("records")
        ]
        return _render("requests", "Introduction requests", status, requests=rows, showing=showing,
                       move_labels=MOVE_LABELS, message=message, message_kind=kind)  # fmt: skip

    def move(request_id: int, status: str) -> ResponseReturnValue:
        if not auth.csrf_ok():
            return page("The form had expired; please try again.", "warning", 400)
        if status not in MOVE_LABELS:
            abort(404)
        try:
            before = atlas.store.move_request(request_id, status, user=auth.current_user_name() or "-")
        except StoreError as exc:
            return page(str(exc), "warning", 409)
        audit.record("request-status", f"#{request_id} {before} -> {status}")
        return redirect(PATH, 303)

    def csv() -> Response:
        table = queue(atlas, True)
        now = dt.datetime.now(dt.UTC)
        audit.record("export", f"requests ({len(table)})")
        content = to_csv_bytes(table.astype({"created_at": str, "updated_at": str}))
        response = Response(content, content_type="text/csv; charset=utf-8")
        response.headers["Content-Disposition"] = f'attachment; filename="requests_{now:%Y%m%dT%H%M%SZ}.csv"'
        return response

    server.add_url_rule(PATH, "atlas_requests", page, methods=["GET"])
    server.add_url_rule(f"{PATH}/<int:request_id>/<status>", "atlas_request_move", move, methods=["POST"])
    server.add_url_rule(f"{PATH}.csv", "atlas_requests_csv", csv, methods=["GET"])
