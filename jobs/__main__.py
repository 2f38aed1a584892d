"""`python -m jobs`: one APScheduler BlockingScheduler running journal.scheduled.JOBS at their intervals.

Every job claims its work in the database, so several of these processes (or a restarted one) never send
twice; coalescing and one instance per job keep a slow run from piling up behind itself.
"""

from __future__ import annotations

import logging
import signal

from apscheduler.schedulers.blocking import BlockingScheduler

from journal import create_app
from journal.db import utcnow
from journal.scheduled import JOBS

log = logging.getLogger("journal.jobs")


def _run(app, name, job) -> None:
    with app.app_context():
        try:
            job(utcnow())
        except Exception:
            log.exception("job %s failed", name)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app()
    scheduler = BlockingScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 120}
    )
    for name, job, seconds in JOBS:
        scheduler.add_job(
            _run, "interval", seconds=seconds, args=[app, name, job], id=name, name=name, next_run_time=utcnow()
        )
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=True))
    log.info("scheduler started with jobs: %s", ", ".join(name for name, _, _ in JOBS))
    scheduler.start()


if __name__ == "__main__":
    main()
