"""Command-line tools: ``flask --app wsgi create-user``, ``demo``, ``jobs``, ``vapid`` and ``apply-baseline-rule``."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from . import audit
from .accounts import EnrolmentError, create_staff, password_problem
from .db import db, utcnow
from .models import Clinic, Role
from .schemas import iana_zones


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([Role.ADMIN.value, Role.CLINICIAN.value]), default=Role.ADMIN.value)
@click.option("--timezone", "zone", default="America/New_York", show_default=True)
@click.option("--clinic", "clinic_name", default="Clinic", show_default=True, help="Created if it does not exist.")
@click.password_option(help="Prompted for when not given.")
def create_user_command(email: str, name: str, role: str, zone: str, clinic_name: str, password: str) -> None:
    """Create a staff account (the first admin, typically)."""
    if zone not in iana_zones():
        raise click.BadParameter(f"{zone!r} is not an IANA time zone", param_hint="--timezone")
    problem = password_problem(password, name=name, email=email)
    if problem:
        raise click.BadParameter(problem, param_hint="--password")
    clinic = db.session.scalar(select(Clinic).where(Clinic.name == clinic_name))
    if clinic is None:
        clinic = Clinic(name=clinic_name)
        db.session.add(clinic)
        db.session.flush()
    try:
        user = create_staff(
            db.session,
            clinic.id,
            email=email,
            name=name,
            role=Role(role),
            timezone=zone,
            now=utcnow(),
            password=password,
        )
    except EnrolmentError as error:
        raise click.ClickException(error.message) from error
    # No account did this: whoever could run commands on the server. The trail says so.
    audit.record(None, "staff.create", detail=f"user {user.id}; by flask create-user")
    db.session.commit()
    click.echo(f"Created {role} {user.email} (id {user.id}).")


@click.command("demo")
@click.option("--password", default=None, help="Password for every demo account (default: a random one, printed).")
def demo_command(password: str | None) -> None:
    """Seed the demo clinic (idempotent)."""
    from .demo import seed_demo

    if password is not None and len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="--password")
    chosen = password or secrets.token_urlsafe(9)
    created, accounts = seed_demo(
        db.session, chosen, utcnow(), progress=click.progressbar, reset_passwords=password is not None
    )
    if not created and password is None:
        click.echo("The demo clinic is already there; passwords unchanged (pass --password to set them).")
        return
    click.echo(f"Demo clinic ready. Sign in at {current_app.config['BASE_URL']}/login with:")
    for email in accounts:
        click.echo(f"  {email}")
    click.echo(f"  password: {chosen}")


jobs_group = AppGroup("jobs", help="Scheduled jobs.")


@jobs_group.command("run-once")
@click.option("--now", "now_text", default=None, help="ISO-8601 instant with offset; default: the current time.")
def run_once_command(now_text: str | None) -> None:
    """Run every scheduled job once, as of --now."""
    from .scheduled import run_all

    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--now") from error
        if now.tzinfo is None:
            raise click.BadParameter("give an offset, e.g. 2026-03-08T20:00:00-05:00", param_hint="--now")
    else:
        now = utcnow()
    # Say what the jobs did (counts only; the job logs carry no health data).
    logging.getLogger("journal.jobs").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(name)s: %(message)s")
    run_all(now.astimezone(UTC))


@click.command("vapid")
def vapid_command() -> None:
    """Make a VAPID key pair for Web Push: set the private key as JOURNAL_VAPID_PRIVATE_KEY."""
    from .channels import vapid_keys

    private_key, public_key = vapid_keys()
    click.echo(f"JOURNAL_VAPID_PRIVATE_KEY={private_key}")
    click.echo(f"public key (browsers get it from the app): {public_key}")


@click.command("apply-baseline-rule")
def apply_baseline_rule_command() -> None:
    """Choose baselines by the rule for data stored before the rule existed (once, after upgrading; running it
    again changes nothing, and a clinician's choice is never replaced)."""
    from .baselines import apply_rule_everywhere

    count = apply_rule_everywhere(db.session, utcnow())
    click.echo(f"The baseline rule was applied to {count} patient(s) with a given session.")


def init_app(app: Flask) -> None:
    app.cli.add_command(apply_baseline_rule_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(jobs_group)
    app.cli.add_command(vapid_command)
