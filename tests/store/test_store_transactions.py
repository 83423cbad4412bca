"""An import is one transaction: concurrent imports both land whole, readers never see half of
one, and killing an import midway leaves the previous state."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from pandas.testing import assert_frame_equal

from geodata import records, store
from geodata.store.models import Facility, RejectedRow, RowProblem

REPO = Path(__file__).resolve().parents[2]


def test_two_imports_at_once_both_land_intact(
    store_url: str, atlas: store.Store, sample_file: Path, messy_file: Path
) -> None:
    jobs = {"sample": sample_file, "messy": messy_file}
    errors: list[BaseException] = []
    seen: list[tuple[str, int, int]] = []
    events: list[tuple[str, str]] = []  # (import, progress message), in the order they happen
    done = threading.Event()
    start = threading.Barrier(len(jobs))

    placed = {name: threading.Event() for name in jobs}

    def progress(name: str, message: str) -> None:
        events.append((name, message))
        if message.startswith("placed "):
            placed[name].set()
        if message.startswith("stored ") and not any(m.startswith("stored ") for n, m in events if n != name):
            # the first writer holds its transaction open until the other is about to write too
            other = next(n for n in jobs if n != name)
            placed[other].wait(timeout=30)
            time.sleep(0.2)

    def run(name: str, path: Path) -> None:
        try:
            with store.connect(store_url) as own:  # as a second process would
                start.wait(timeout=60)
                own.import_file(path, name, f"user-{name}", progress=lambda m: progress(name, m))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    def read() -> None:  # a reader sees a round whole or not at all
        try:
            while not done.is_set():
                for info in atlas.rounds():
                    seen.append((info.name, info.sites, len(atlas.facilities(info.name))))
                time.sleep(0.005)
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    importers = [threading.Thread(target=run, args=job) for job in jobs.items()]
    for thread in importers:
        thread.start()
    for thread in importers:
        thread.join(timeout=120)
    done.set()
    reader.join(timeout=60)
    assert not errors, errors
    # the second import was ready to write while the first held the write lock, and waited
    first = next(n for n, m in events if m.startswith("stored "))
    second = next(n for n in jobs if n != first)
    order = [(n, m.split()[0]) for n, m in events]
    assert order.index((second, "placed")) < order.index((first, "round")) < order.index((second, "stored"))
    assert sorted(r.name for r in atlas.rounds()) == ["messy", "sample"]
    for name, path in jobs.items():
        loaded = records.load_facilities(path)
        assert_frame_equal(atlas.facilities(name), loaded.facilities)
        assert_frame_equal(atlas.rejected(name), loaded.rejected)
        assert atlas.problems(name) == loaded.problems
    assert seen and all(sites == rows for _name, sites, rows in seen)


def _row_counts(atlas: store.Store) -> tuple[int, ...]:
    with atlas.engine.connect() as connection:
        return tuple(
            connection.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
            for model in (Facility, RejectedRow, RowProblem)
        )


def test_killing_an_import_midway_leaves_the_previous_state(
    store_url: str, atlas: store.Store, sample_file: Path, messy_file: Path, large_file: Path
) -> None:
    atlas.import_file(sample_file, "before", "ana", publish=True)
    rounds_before, rows_before = atlas.rounds(), _row_counts(atlas)
    env = {**os.environ, "ATLAS_DATABASE_URL": store_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "geodata", "import", str(large_file), "--round", "killed", "--user", "bo"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines: queue.Queue[str] = queue.Queue()

    def pump(stream: IO[str]) -> None:
        for line in stream:
            lines.put(line)
        lines.put("")  # end of output

    threading.Thread(target=pump, args=(process.stderr,), daemon=True).start()
    seen = [""]
    try:
        while not seen[-1].startswith("stored "):  # rows written, the transaction still open
            seen.append(lines.get(timeout=120))
            assert seen[-1], f"the import ended before writing: {''.join(seen)}"
        assert seen[-1].startswith("stored 1000/20000 sites"), "".join(seen)
        assert process.poll() is None, "the import finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    with store.connect(store_url) as after:  # a new process's view
        assert after.rounds() == rounds_before
        assert _row_counts(after) == rows_before
        if after.backend == "sqlite":
            with after.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        # nothing is left locked: the next import goes through
        assert not after.import_file(messy_file, "next", "ana").reused
        assert [r.name for r in after.rounds()] == ["before", "next"]
