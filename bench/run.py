"""`make bench`: the journal's speed and weight figures, each against a baseline measured in the same run.

    python -m bench.run [--quick] [--postgres URL] [--output BENCHMARKS.md]

Prints one table and writes it, with the machine's details, to BENCHMARKS.md. Everything runs on 127.0.0.1:
gunicorn with one sync worker per core driven by wrk, and in-process measurements with explicit instants.
Figures on a shared machine are noisy; the ratios are what the targets are about.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET = "bench-secret-key-not-for-production"
PATIENT_ZONE = "America/New_York"


@dataclass
class Row:
    name: str
    value: str
    target: str
    met: bool | None  # None: no target, a figure for the record
    note: str = ""


# --- Helpers ---------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_for(database_url: str):
    from journal import create_app

    return create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET,
            "RATELIMIT_ENABLED": False,
            "BASE_URL": "http://127.0.0.1",
        }
    )


def migrate(database_url: str) -> None:
    env = {**os.environ, "JOURNAL_DATABASE_URL": database_url, "JOURNAL_SECRET_KEY": SECRET}
    subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
    )


def reset_postgres(url: str) -> None:
    """Drop every table (and the alembic version) so the migrations start from nothing."""
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
    engine.dispose()


class StatementCounter:
    """Counts the SQL statements an engine runs while it is active."""

    def __init__(self, engine):
        self.engine = engine
        self.count = 0

    def _count(self, *_args, **_kwargs):
        self.count += 1

    def __enter__(self):
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._count)


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


# --- Seeding ---------------------------------------------------------------------------------------------------


def seed_patients(app, count: int, now: datetime, *, tokens: bool = False, zone: str = PATIENT_ZONE):
    """``count`` activated patients of one clinician, inserted in bulk (no password hashing). Returns the
    clinician, the patient ids and, if asked, one API token per patient."""
    from sqlalchemy import func, insert, select

    from journal.accounts import issue_api_token
    from journal.db import db
    from journal.models import CareTeamMember, Clinic, Patient, Role, User

    with app.app_context():
        clinic = Clinic(name="Bench Clinic", created_at=now)
        db.session.add(clinic)
        db.session.flush()
        clinician = User(
            clinic_id=clinic.id,
            email="clinician@bench.test",
            name="Bench Clinician",
            role=Role.CLINICIAN,
            timezone=zone,
            created_at=now,
            activated_at=now,
        )
        db.session.add(clinician)
        db.session.flush()
        first_id = (db.session.scalar(select(func.max(User.id))) or 0) + 1
        step = 5000
        for offset in range(0, count, step):
            users = [
                {
                    "id": first_id + n,
                    "clinic_id": clinic.id,
                    "email": f"p{n}@bench.test",
                    "name": f"Patient {n}",
                    "role": Role.PATIENT,
                    "timezone": zone,
                    "created_at": now,
                    "activated_at": now - timedelta(days=30),
                    "failed_logins": 0,
                    "session_salt": f"{n:016x}"[-16:],
                }
                for n in range(offset, min(count, offset + step))
            ]
            db.session.execute(insert(User), users)
            db.session.execute(
                insert(Patient),
                [
                    {
                        "user_id": u["id"],
                        "substances": [],
                        "tracks_pain": False,
                        "sleep_detail": False,
                        "enrolled_at": now,
                        "urinary_check": False,
                        "data_version": 0,
                    }
                    for u in users
                ],
            )
            db.session.execute(
                insert(CareTeamMember),
                [{"patient_id": u["id"], "clinician_id": clinician.id, "added_at": now} for u in users],
            )
        db.session.commit()
        ids = list(range(first_id, first_id + count))
        issued = []
        if tokens:
            for patient_id in ids:
                token, _ = issue_api_token(db.session, db.session.get(User, patient_id), now, hours=12)
                issued.append(token)
            db.session.commit()
        clinician_token, _ = issue_api_token(db.session, db.session.get(User, clinician.id), now, hours=12)
        db.session.commit()
        return clinician.id, clinician_token, ids, issued


def seed_history(app, patient_id: int, now: datetime, days: int = 90) -> None:
    """90 days of check-ins, a session every few weeks and PHQ-9/GAD-7 every 14 days for one patient."""
    import random

    from journal.assessments import set_baseline, submit
    from journal.db import db
    from journal.models import CheckIn, EntrySource, Patient, ReportMode, User
    from journal.sessions import save_session

    rng = random.Random(7)
    with app.app_context():
        patient = db.session.get(Patient, patient_id)
        clinician = db.session.scalar(db.select(User).where(User.email == "clinician@bench.test"))
        zone = ZoneInfo(patient.user.timezone)
        today = now.astimezone(zone).date()
        for back in range(days, 0, -1):
            day = today - timedelta(days=back)
            if rng.random() < 0.85:
                db.session.add(
                    CheckIn(
                        patient_id=patient_id,
                        local_date=day,
                        mood=rng.randint(2, 8),
                        report_mode=ReportMode.ON_TIME,
                        source=EntrySource.PATIENT,
                        created_at=now,
                        updated_at=now,
                        side_effects=[],
                        note="",
                    )
                )
        for back in (80, 77, 74, 71, 68, 65, 40, 20):
            start = datetime.combine(today - timedelta(days=back), datetime.min.time(), tzinfo=zone) + timedelta(
                hours=10
            )
            save_session(
                db.session,
                patient,
                {
                    "status": "given",
                    "start": start,
                    "route": "iv",
                    "product": "Racemic ketamine",
                    "dose": 0.5,
                    "dose_unit": "mg/kg",
                    "course": "induction" if back > 60 else "maintenance",
                },
                now,
                clinician,
            )
        first = None
        for back in range(84, 0, -14):
            at = now - timedelta(days=back)
            total = max(0, 18 - (84 - back) // 6)
            answers = [min(3, total // 9 + (1 if i < total % 9 else 0)) for i in range(8)] + [0]
            form, _ = submit(db.session, patient, {"instrument": "phq9", "answers": answers}, at, patient.user)
            submit(db.session, patient, {"instrument": "gad7", "answers": answers[:7]}, at, patient.user)
            first = first or form
        set_baseline(db.session, patient, first.id, clinician, now)
        db.session.commit()


# --- gunicorn and wrk ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def gunicorn(database_url: str, workers: int) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "JOURNAL_DATABASE_URL": database_url,
        "JOURNAL_SECRET_KEY": SECRET,
        "JOURNAL_RATELIMIT_ENABLED": "false",
        "JOURNAL_BASE_URL": f"http://127.0.0.1:{port}",
    }
    # Its log goes to a file: a pipe nobody reads fills up and then blocks the workers that write to it.
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{port}",
                "--no-control-socket",
                "--log-level",
                "warning",
                "--logger-class",
                "journal.logs.GunicornLogger",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
                time.sleep(0.1)
            else:
                raise RuntimeError("gunicorn did not start")
            run_wrk(f"{url}/healthz", seconds=2)  # warm every worker (imports, first connections)
            run_wrk(f"{url}/api/v1/me", seconds=1)  # and the API's first request (lazy imports, the OpenAPI set-up)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.seek(0)
            problems = [line for line in log.read().splitlines() if "WORKER TIMEOUT" in line or "Traceback" in line]
            if problems:
                print("gunicorn reported:", *problems[:5], sep="\n  ", file=sys.stderr)


@dataclass
class WrkResult:
    requests_per_second: float
    errors: int  # non-2xx/3xx responses and socket errors
    p50_ms: float | None


def run_wrk(url: str, seconds: int, script: str | None = None, env: dict | None = None, connections: int = 8):
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        command += ["-s", str(ROOT / "bench" / script)]
    output = subprocess.run(
        [*command, url], env={**os.environ, **(env or {})}, capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    p50_ms = None
    if p50:
        p50_ms = float(p50.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p50.group(2)]
    return WrkResult(rps, errors, p50_ms)


ROUNDS = 3
ANALYSIS_MARKER = "<!-- Written by hand below this line; make bench keeps it. -->"


def alternating(baseline: Callable[[], WrkResult], measured: Callable[[], WrkResult]) -> tuple[WrkResult, WrkResult]:
    """Each run ROUNDS times, in turn, and the median run of each: a neighbour's load on a shared machine then
    weighs on both sides of a ratio alike, rather than on whichever happened to run during it."""

    def median_run(runs: list[WrkResult]) -> WrkResult:
        ranked = sorted(runs, key=lambda run: run.requests_per_second)
        middle = ranked[len(ranked) // 2]
        return WrkResult(middle.requests_per_second, sum(run.errors for run in runs), middle.p50_ms)

    pairs = [(baseline(), measured()) for _ in range(ROUNDS)]
    return median_run([first for first, _ in pairs]), median_run([second for _, second in pairs])


def checkin_throughput(database_url: str, label: str, seconds: int, workers: int) -> list[Row]:
    now = datetime.now(UTC)
    app = app_for(database_url)
    _, _, _, tokens = seed_patients(app, 50, now, tokens=True)
    today = now.astimezone(ZoneInfo(PATIENT_ZONE)).date().isoformat()
    pairs = ",".join(f"{token}:{today}" for token in tokens)
    dispose(app)
    with gunicorn(database_url, workers) as url:
        trivial, writes = alternating(
            lambda: run_wrk(f"{url}/healthz", seconds),
            lambda: run_wrk(url, seconds, "checkin.lua", {"BENCH_TOKENS": pairs}),
        )
    ratio = writes.requests_per_second / trivial.requests_per_second
    return [
        Row(f"Trivial route /healthz ({label})", f"{trivial.requests_per_second:,.0f} req/s", "baseline", None),
        Row(
            f"Check-in writes PUT /api/v1/checkins/{{date}} ({label})",
            f"{writes.requests_per_second:,.0f} req/s = {ratio:.2f} x trivial",
            ">= 0.5 x trivial",
            ratio >= 0.5 and writes.errors == 0,
            f"{writes.errors} errors; median latency {writes.p50_ms:.1f} ms" if writes.p50_ms else "",
        ),
    ]


def dispose(app) -> None:
    from journal.db import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


# --- Charts ----------------------------------------------------------------------------------------------------


def chart_rows(database_url: str, seconds: int, workers: int, repeat: int) -> list[Row]:
    from matplotlib.figure import Figure

    from journal import charts, patient_data
    from journal.db import db
    from journal.models import Patient

    now = datetime.now(UTC)
    app = app_for(database_url)
    _clinician_id, clinician_token, ids, _ = seed_patients(app, 1, now)
    seed_history(app, ids[0], now)
    with app.app_context():
        data = patient_data.load(db.session, db.session.get(Patient, ids[0]), now)
        series = patient_data.daily_series(data)

    days = sorted(series.mood)

    def bare() -> bytes:
        figure = Figure(figsize=(9, 2.5), dpi=72)
        axes = figure.add_subplot()
        axes.plot(days, [series.mood[d] for d in days])
        axes.plot(days, [series.mood[d] - 1 for d in days])
        axes.plot(days, [series.mood[d] + 1 for d in days])
        return charts.render(figure, "png")

    def ours() -> bytes:
        return charts.render(charts.outcomes_figure(series), "png")

    bare(), ours()  # warm: imports, font cache
    bare_s = median_seconds(bare, repeat)
    ours_s = median_seconds(ours, repeat)
    ratio = ours_s / bare_s
    rows = [
        Row("Bare three-line matplotlib plot, same data (PNG)", f"{bare_s * 1000:.0f} ms", "baseline", None),
        Row(
            "Warm render, 90-day outcomes chart (PNG)",
            f"{ours_s * 1000:.0f} ms = {ratio:.2f} x bare",
            "<= 2 x bare",
            ratio <= 2,
        ),
    ]
    dispose(app)
    with gunicorn(database_url, workers) as url:
        chart_url = f"{url}/api/v1/patients/{ids[0]}/charts/outcomes.png"
        run_wrk(chart_url, 1, "get.lua", {"BENCH_TOKEN": clinician_token})  # the first request renders and stores
        trivial, cached = alternating(
            lambda: run_wrk(f"{url}/healthz", seconds),
            lambda: run_wrk(chart_url, seconds, "get.lua", {"BENCH_TOKEN": clinician_token}),
        )
    chart_ratio = cached.requests_per_second / trivial.requests_per_second
    rows.append(
        Row(
            "Cached chart requests (outcomes.png, no ETag sent)",
            f"{cached.requests_per_second:,.0f} req/s = {chart_ratio:.2f} x trivial",
            ">= 0.5 x trivial",
            chart_ratio >= 0.5 and cached.errors == 0,
            f"{cached.errors} errors; trivial {trivial.requests_per_second:,.0f} req/s",
        )
    )
    return rows


# --- Reminders at 100,000 patients and the dashboard at 1,000 -----------------------------------------------------


def seed_recent_activity(app, ids: list[int], now: datetime) -> None:
    """What a typical evening looks like: everyone checked in on each of the last three days and filled in
    the questionnaires five days ago, so today's daily reminder is what is due (not a missed-days alert)."""
    from sqlalchemy import insert

    from journal.db import db
    from journal.models import Assessment, CheckIn, EntrySource, ReportMode

    today = now.astimezone(ZoneInfo(PATIENT_ZONE)).date()
    with app.app_context():
        for offset in range(0, len(ids), 5000):
            chunk = ids[offset : offset + 5000]
            db.session.execute(
                insert(CheckIn),
                [
                    {
                        "patient_id": patient_id,
                        "local_date": today - timedelta(days=back),
                        "mood": 5,
                        "report_mode": ReportMode.ON_TIME,
                        "source": EntrySource.PATIENT,
                        "created_at": now,
                        "updated_at": now,
                        "side_effects": [],
                        "note": "",
                        "days_after_event": 0,
                    }
                    for patient_id in chunk
                    for back in (1, 2, 3)
                ],
            )
            db.session.execute(
                insert(Assessment),
                [
                    {
                        "patient_id": patient_id,
                        "instrument": instrument,
                        "answers": [0] * count,
                        "total": 0,
                        "band": "minimal",
                        "prorated": False,
                        "completed_at": now - timedelta(days=5),
                        "source": EntrySource.PATIENT,
                        "created_at": now,
                    }
                    for patient_id in chunk
                    for instrument, count in (("phq9", 9), ("gad7", 7))
                ],
            )
        db.session.commit()


def reminder_rows(database_url: str, patients: int) -> list[Row]:
    from journal.db import db
    from journal.reminders import BATCH, queue_daily_reminders

    # 20:30 in New York: every patient's default 20:00 reminder is due, and none has checked in today.
    local = datetime.combine(date(2026, 3, 3), datetime.min.time(), tzinfo=ZoneInfo(PATIENT_ZONE))
    now = (local + timedelta(hours=20, minutes=30)).astimezone(UTC)
    app = app_for(database_url)
    _, _, ids, _ = seed_patients(app, patients, now - timedelta(days=40))
    seed_recent_activity(app, ids, now)
    with app.app_context():
        engine = db.engine
        with StatementCounter(engine) as counter:
            started = time.perf_counter()
            queued = queue_daily_reminders(db.session, now)
            seconds = time.perf_counter() - started
    dispose(app)
    batches = -(-(patients + 1) // BATCH)
    return [
        Row(
            f"One reminder run over {patients:,} patients",
            f"{seconds:.2f} s ({queued:,} messages queued)",
            "<= 2 s",
            seconds <= 2,
        ),
        Row(
            "  its SQL statements",
            f"{counter.count} = {counter.count / batches:.1f} per batch of {BATCH:,}",
            "a constant per batch",
            None,
        ),
    ]


def dashboard_rows(database_url: str, patients: int, repeat: int) -> list[Row]:
    """The page a clinician opens, signed in, over patients with a typical evening's data (recent check-ins and
    questionnaires): the whole request, and the triage of every patient within it."""
    from journal import dashboard
    from journal.db import db
    from journal.models import User

    now = datetime.now(UTC)
    app = app_for(database_url)
    clinician_id, _, ids, _ = seed_patients(app, patients, now)
    seed_recent_activity(app, ids, now)
    client = app.test_client()
    with app.app_context():
        clinician = db.session.get(User, clinician_id)
        with client.session_transaction() as cookie:
            cookie["_user_id"] = clinician.get_id()
            cookie["_fresh"] = True
            cookie["person_tag"] = "bench"  # a signed-in browser also holds its person cookie (journal/device.py)
        client.set_cookie("journal_person", "bench")
        engine = db.engine
        triage_s = median_seconds(lambda: dashboard.triage(db.session, clinician, now), repeat)

    def page() -> None:
        response = client.get("/clinician/dashboard")
        assert response.status_code == 200 and b"most in need first" in response.data, response.status

    page()
    with StatementCounter(engine) as counter:
        page()
    page_s = median_seconds(page, repeat)
    dispose(app)
    return [
        Row(
            f"Triage dashboard page, {patients:,} patients (GET /clinician/dashboard)",
            f"{page_s * 1000:.0f} ms",
            "<= 100 ms",
            page_s <= 0.1,
        ),
        Row(f"  of which the triage of all {patients:,} (dashboard.triage)", f"{triage_s * 1000:.0f} ms", "", None),
        Row("  its SQL statements", str(counter.count), "<= 10", counter.count <= 10),
    ]


# --- Page weight ------------------------------------------------------------------------------------------------


def page_weight_rows(database_url: str) -> list[Row]:
    """Each patient page on a first visit, as transferred (headers + bodies of the page and what it loads),
    and the requests it makes to other origins, measured in Chromium."""
    from bench.pages import measure_patient_pages

    return [
        Row(
            f"Patient page {path}",
            f"{total:,} bytes, {foreign} requests to other origins",
            "0 other origins",
            foreign == 0,
        )
        for path, total, foreign in measure_patient_pages(database_url)
    ]


# --- The table -------------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.1f} GiB RAM"
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; {' '.join(wrk)}"
    )


def table(rows: list[Row]) -> str:
    lines = ["| Measure | Result | Target | Met |", "|---|---|---|---|"]
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        value = f"{row.value}" + (f" ({row.note})" if row.note else "")
        lines.append(f"| {row.name} | {value} | {row.target} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, smaller populations (for a smoke test)")
    parser.add_argument("--postgres", default=os.environ.get("JOURNAL_BENCH_POSTGRES_URL", ""))
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    seconds = 3 if args.quick else 10
    repeat = 5 if args.quick else 20
    workers = os.cpu_count() or 1
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="journal-bench-") as folder:

        def fresh_sqlite(name: str) -> str:
            url = f"sqlite:///{Path(folder) / name}.sqlite3"
            migrate(url)
            return url

        def fresh_postgres() -> str:
            reset_postgres(args.postgres)
            migrate(args.postgres)
            return args.postgres

        steps = [
            (
                "check-in writes on SQLite",
                lambda: checkin_throughput(fresh_sqlite("writes"), "SQLite", seconds, workers),
            ),
        ]
        if args.postgres:
            steps.append(
                (
                    "check-in writes on PostgreSQL",
                    lambda: checkin_throughput(fresh_postgres(), "PostgreSQL", seconds, workers),
                )
            )
        else:
            rows.append(
                Row(
                    "Check-in writes (PostgreSQL)",
                    "not measured",
                    ">= 0.5 x trivial",
                    None,
                    "set JOURNAL_BENCH_POSTGRES_URL",
                )
            )
        steps += [
            ("charts", lambda: chart_rows(fresh_sqlite("charts"), seconds, workers, repeat)),
            ("reminders", lambda: reminder_rows(fresh_sqlite("reminders"), 10_000 if args.quick else 100_000)),
            ("dashboard", lambda: dashboard_rows(fresh_sqlite("dashboard"), 1_000, repeat)),
            ("page weight", lambda: page_weight_rows(fresh_sqlite("pages"))),
        ]
        for label, step in steps:
            print(f"measuring {label} ...", file=sys.stderr, flush=True)
            rows += step()
    about = machine()
    text = table(rows)
    print(text)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    output = Path(args.output)
    # What follows the marker is written by hand (what limits each missed target, from a profile): kept.
    analysis = output.read_text().partition(ANALYSIS_MARKER)[2] if output.exists() else ""
    output.write_text(
        "# Benchmarks\n\n"
        f"Measured by `make bench` on {stamp}{' (--quick)' if args.quick else ''}.\n\n"
        f"Machine: {about}.\n\n"
        f"gunicorn: {workers} sync workers (one per core) on 127.0.0.1, driven by wrk (2 threads, 8 connections). "
        f"A throughput ratio is the median of {ROUNDS} runs of {seconds} s of each side, taken in turn; the other "
        "figures are medians of repeated runs in one process. Ratios compare figures measured in the same run.\n\n"
        + text
        + "\n\n"
        + ANALYSIS_MARKER
        + (analysis or "\n")
    )
    # A measurement, not a gate: it succeeds once the figures are written; what missed its target is said.
    missed = [row.name.strip() for row in rows if row.met is False]
    if missed:
        print(f"{len(missed)} targets missed (see {output.name}): " + "; ".join(missed), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
