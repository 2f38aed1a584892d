"""Command-line tools: ``flask --app wsgi create-user`` and ``flask --app wsgi demo``."""

from __future__ import annotations

import secrets

import click
from flask import Flask, current_app
from sqlalchemy import select

from .accounts import EnrolmentError, create_staff
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
    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="--password")
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


def init_app(app: Flask) -> None:
    app.cli.add_command(create_user_command)
    app.cli.add_command(demo_command)
