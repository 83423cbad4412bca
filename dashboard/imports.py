"""The import pages: an official uploads a facility file, follows the import, reads its report,
then publishes or discards the round.

    GET  /import                           upload form, the rounds, the imports under way
    POST /import                           upload (multipart: file, round, csrf_token) -> job page
    GET  /import/jobs/<id>                 progress (refreshes itself), then the round's report
    GET  /import/rounds/<name>             the report: counts, every rejected row and finding,
                                           placement problems; publish / discard
    GET  /import/rounds/<name>/problems.csv   every finding and placement problem (row, field, value, reason)
    GET  /import/rounds/<name>/rejected.csv   the rejected rows as written, with their reasons, to correct
    POST /import/rounds/<name>/publish | discard

Officials only: any other role gets 403 on every one of these paths, whatever the method (the
sign-in guard sends anonymous visitors to sign in first). The pages are rendered on the server
with Jinja's autoescaping (file and round names are user input) and need no script: the job page
refreshes itself. An import runs in a background thread of the worker that received it, through
``Store.import_file``: one transaction, so a failed or killed import leaves the store as it was;
its progress is kept where every worker and host reads it (dashboard.serving_jobs).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import pandas as pd
from flask import Flask, Response, abort, redirect, request
from flask.typing import ResponseReturnValue
from werkzeug.utils import secure_filename

from dashboard import audit, auth, hardening, matchmaking, overview, profile, serving
from dashboard.cache import SharedCache
from dashboard.data import Atlas, warming
from dashboard.exports import to_csv_bytes
from dashboard.serving_jobs import BEAT_SECONDS, JobBoard, jobs_folder
from geodata import nuts, readers, vocab
from geodata.store import StoreError, UnknownRound
from geodata.store.importing import check_name
from geodata.store.reports import ImportReport

log = logging.getLogger(__name__)

PATH = "/import"
#: Upload limit in MB (ATLAS_MAX_UPLOAD_MB); the rest of the app keeps hardening's small limit.
DEFAULT_MAX_UPLOAD_MB = 200
SUFFIXES = readers.CSV_SUFFIXES + readers.EXCEL_SUFFIXES + readers.GPKG_SUFFIXES + readers.PARQUET_SUFFIXES
#: Rows of a table shown on the report page (the CSV downloads hold every row).
SHOWN_ROWS = 500
_JOB_ID = re.compile(r"[0-9a-f]{32}")


def max_upload_bytes() -> int:
    raw = os.environ.get("ATLAS_MAX_UPLOAD_MB", str(DEFAULT_MAX_UPLOAD_MB))
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if not 0 < value <= 10_000:
        raise ValueError(f"ATLAS_MAX_UPLOAD_MB={raw!r}: give a number of megabytes between 1 and 10000")
    return int(value * 1024 * 1024)


@dataclass
class Job:
    """One import under way or finished (its state is on the job board: any worker shows it)."""

    id: str
    user: str
    file_name: str
    round_name: str
    started: dt.datetime
    lines: list[str] = field(default_factory=list)
    status: str = "running"  # running, done, failed
    error: str | None = None
    round: str | None = None  # the round made (or reused)
    reused: bool = False


def _state(job: Job) -> dict[str, object]:
    return {**dataclasses.asdict(job), "started": job.started.timestamp()}


def _job(state: dict[str, Any]) -> Job:
    fields = {f.name for f in dataclasses.fields(Job)}
    started = dt.datetime.fromtimestamp(float(state["started"]), dt.UTC)
    return Job(**{**{k: v for k, v in state.items() if k in fields}, "started": started})


class Jobs:
    """The imports of this app. Each runs in a thread of the worker that received the upload;
    its state is on a job board (dashboard.serving_jobs: Redis, else a folder on this host), so
    that whichever worker or host answers the job page shows it."""

    def __init__(self, atlas: Atlas, board: JobBoard | None = None) -> None:
        self.atlas = atlas
        shared = atlas.shared if isinstance(atlas.shared, SharedCache) else None
        self.board = board or JobBoard(jobs_folder(atlas.store.url), shared)

    def start(self, upload: Path, file_name: str, round_name: str, user: str) -> Job:
        job = Job(uuid.uuid4().hex, user, file_name, round_name, dt.datetime.now(dt.UTC))
        self.board.save(_state(job))
        threading.Thread(
            target=self._run, args=(job, upload), name=f"import-{job.id[:8]}", daemon=True
        ).start()
        return job

    def get(self, job_id: str) -> Job | None:
        state = self.board.load(job_id) if _JOB_ID.fullmatch(job_id) else None
        return None if state is None else _job(state)

    def running(self) -> list[Job]:
        return [_job(state) for state in self.board.recent() if state.get("status") == "running"]

    def _run(self, job: Job, upload: Path) -> None:
        lock, finished = threading.Lock(), threading.Event()

        def save() -> None:
            with lock:  # one writer at a time, and no heartbeat after the last state
                if not finished.is_set():
                    self.board.save(_state(job))

        def beat() -> None:
            while not finished.wait(BEAT_SECONDS):
                save()

        def progress(line: str) -> None:
            job.lines.append(line)
            save()

        threading.Thread(target=beat, name=f"import-beat-{job.id[:8]}", daemon=True).start()
        try:
            report = self.atlas.store.import_file(
                upload, job.round_name, job.user, publish=False, progress=progress
            )
            job.round, job.reused, job.status = report.round.name, report.reused, "done"
        except (readers.InputError, StoreError, nuts.NutsDataError) as exc:
            job.error, job.status = str(exc).replace(str(upload.parent), "").lstrip("/"), "failed"
        except Exception as exc:  # the page says it failed; the log says why
            log.exception("import %s of %s failed", job.id, job.file_name)
            job.error, job.status = (
                f"the import failed ({type(exc).__name__}); the server log has more",
                "failed",
            )
        finally:
            with lock:
                finished.set()
                self.board.save(_state(job))
            upload.unlink(missing_ok=True)
            upload.parent.rmdir()


# --- pages ----------------------------------------------------------------------------------------


TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)


def _render(name: str, title: str, status: int = 200, **context: object) -> ResponseReturnValue:
    who = f"signed in as {auth.current_user_name()} ({auth.current_role()})"
    page = (
        _templates()
        .get_template(f"import_{name}.html")
        .render(title=title, css=auth.stylesheet(), csrf=auth.csrf_token(), who=who, **context)
    )
    return Response(page, status=status, content_type="text/html; charset=utf-8")


def round_link(name: str) -> str:
    return f"{PATH}/rounds/{quote(name, safe='')}"


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M}"


def problems_table(report: ImportReport) -> pd.DataFrame:
    """Every finding of the validation and every placement problem: kind, row, field, value, reason."""
    rows = [
        {"kind": p.severity, "row": p.row, "field": p.field, "value": p.value, "reason": p.reason}
        for p in report.problems
    ]
    rows += [
        {"kind": "placement", "row": p.source_row, "field": f"NUTS {p.year}", "value": p.facility_id,
         "reason": f"{p.kind}: {p.note}"}
        for p in report.placement_problems
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["kind", "row", "field", "value", "reason"])


def _csv(frame: pd.DataFrame, filename: str) -> Response:
    response = Response(to_csv_bytes(frame), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def register(server: Flask, atlas: Atlas) -> Jobs:
    """Add the import pages to ``server``; returns the job registry."""
    jobs = Jobs(atlas)
    limit = max_upload_bytes()
    store = atlas.store

    @server.before_request
    def officials_only() -> ResponseReturnValue | None:
        if request.path != PATH and not request.path.startswith(PATH + "/"):
            return None
        role = auth.current_role()
        if role is None:
            return None  # the sign-in guard (registered first) has answered already
        if role != "official":
            audit.record("refused", f"{request.method} {request.path[:200]}")
            abort(403)
        return None

    hardening.allow_upload(server, PATH, limit, lambda: auth.current_role() == "official")

    def index(message: str | None = None, kind: str = "info", status: int = 200) -> ResponseReturnValue:
        rounds = [
            {
                "name": r.name, "link": round_link(r.name), "status": r.status, "sites": r.sites,
                "rejected": r.rejected, "source_name": r.source_name,
                "imported": f"{_when(r.imported_at)} by {r.imported_by}",
                "published": f"{_when(r.published_at)} by {r.published_by}" if r.published_at else "",
            }
            for r in reversed(store.rounds())
        ]  # fmt: skip
        return _render(
            "index", "Import a survey round", status, rounds=rounds, running=jobs.running(),
            limit_mb=limit // (1024 * 1024), accept=",".join(SUFFIXES), message=message, message_kind=kind,
        )  # fmt: skip

    def upload() -> ResponseReturnValue:
        if not auth.csrf_ok():
            return index("The form had expired; please choose the file again.", "warning", 400)
        sent = request.files.get("file")
        if sent is None or not sent.filename:
            return index("Choose a file to import.", "warning", 400)
        original = secure_filename(sent.filename) or "upload"
        suffix = Path(original).suffix.lower()
        if suffix not in SUFFIXES:
            return index(
                f"{sent.filename}: files of type {suffix or '(none)'} cannot be imported; "
                f"use one of {', '.join(SUFFIXES)}.", "warning", 400,
            )  # fmt: skip
        try:
            name = check_name(request.form.get("round", "").strip() or Path(original).stem)
        except StoreError as exc:
            return index(str(exc), "warning", 400)
        folder = Path(tempfile.mkdtemp(prefix="atlas-import-"))
        target = folder / original
        sent.save(target)
        user = auth.current_user_name() or "-"
        job = jobs.start(target, original, name, user)
        audit.record("import", f"{original} as round {name}")
        return redirect(f"{PATH}/jobs/{job.id}", 303)

    def job_page(job_id: str) -> ResponseReturnValue:
        job = jobs.get(job_id)
        if job is None:
            abort(404)
        if job.status == "done" and job.round is not None:
            return redirect(round_link(job.round) + ("?reused=1" if job.reused else ""), 303)
        message, kind = (job.error, "danger") if job.status == "failed" else (None, "info")
        return _render(
            "job", "Import", refresh=1 if job.status == "running" else None, job=job, message=message,
            message_kind=kind,
        )  # fmt: skip

    def _report(name: str) -> ImportReport:
        try:
            return store.report(name)
        except UnknownRound:
            abort(404)

    def report_page(name: str) -> ResponseReturnValue:
        report = _report(name)
        info = report.round
        message = None
        if request.args.get("reused"):
            message = f"This file was imported before, as round {info.name!r}; nothing new was stored."
        elif request.args.get("done") == "published":
            message = f"Round {info.name!r} is published: the map shows it."
        return _render(
            "report", f"Round {info.name}", info=info, link=round_link(info.name),
            problems=report.problems, placement=report.placement_problems, shown=SHOWN_ROWS,
            notes=len(report.problems) - len(report.errors), imported=_when(info.imported_at),
            published=_when(info.published_at), message=message, message_kind="success",
        )  # fmt: skip

    def problems_csv(name: str) -> ResponseReturnValue:
        report = _report(name)
        audit.record("export-problems", f"round {report.round.name}")
        return _csv(problems_table(report), f"problems_{secure_filename(report.round.name) or 'round'}.csv")

    def rejected_csv(name: str) -> ResponseReturnValue:
        report = _report(name)
        audit.record("export-rejected", f"round {report.round.name}")
        return _csv(report.rejected_rows, f"rejected_{secure_filename(report.round.name) or 'round'}.csv")

    def decide(name: str, action: str) -> ResponseReturnValue:
        if not auth.csrf_ok():
            abort(400)
        user = auth.current_user_name() or "-"
        try:
            info = (store.publish if action == "publish" else store.discard)(name, user=user)
        except UnknownRound:
            abort(404)
        except StoreError as exc:  # e.g. publishing a discarded round
            return index(str(exc), "warning", 409)
        audit.record(action, f"round {info.name}")
        if action == "publish":  # build it now, before the first map asks for it (here and elsewhere)
            serving.announce_round(atlas, info.name)
            threading.Thread(
                target=_prepare, args=(atlas, info.name), name="prepare-round", daemon=True
            ).start()
        done = "published" if action == "publish" else "discarded"
        return redirect(round_link(info.name) + f"?done={done}", 303)

    routes: list[tuple[str, str, Callable[..., ResponseReturnValue], list[str]]] = [
        (PATH, "atlas_import", index, ["GET"]),
        (PATH, "atlas_import_upload", upload, ["POST"]),
        (f"{PATH}/jobs/<job_id>", "atlas_import_job", job_page, ["GET"]),
        (f"{PATH}/rounds/<path:name>/problems.csv", "atlas_import_problems", problems_csv, ["GET"]),
        (f"{PATH}/rounds/<path:name>/rejected.csv", "atlas_import_rejected", rejected_csv, ["GET"]),
        (f"{PATH}/rounds/<path:name>/publish", "atlas_import_publish", lambda name: decide(name, "publish"),
         ["POST"]),
        (f"{PATH}/rounds/<path:name>/discard", "atlas_import_discard", lambda name: decide(name, "discard"),
         ["POST"]),
        (f"{PATH}/rounds/<path:name>", "atlas_import_report", report_page, ["GET"]),
    ]  # fmt: skip
    for rule, endpoint, view, methods in routes:
        server.add_url_rule(rule, endpoint, view, methods=methods)
    return jobs


def _prepare(atlas: Atlas, name: str) -> None:
    """A just-published round: loaded, placed, default views and profiles built."""
    atlas.prepare(name)
    if not warming():
        return
    try:
        profile.warm_round(atlas.get(name))
        matchmaking.sites(atlas.get(name), vocab.NUTS_YEARS[0])
        overview.warm_round(atlas.get(name))
    except Exception:
        log.exception("warming the profiles of round %r failed; they are built on first use", name)


def import_link(role: str) -> list[Any]:
    """For a page without a published round: where an official imports one."""
    from dash import html  # here: this module serves Flask pages and needs dash only for this

    return [html.A("Import a round", href=PATH)] if role == "official" else []
