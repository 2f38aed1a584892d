"""The demo clinic seeded by `flask --app wsgi demo`."""

from __future__ import annotations

from sqlalchemy import func, select

from journal.accounts import password_matches
from journal.db import db
from journal.models import CareTeamMember, Role, User


def _run(app, *args):
    return app.test_cli_runner().invoke(args=["demo", *args])


def test_demo_seeds_staff_on_separate_care_teams_and_twelve_patients(app):
    result = _run(app, "--password", "demo password 1")
    assert result.exit_code == 0, result.output
    assert "clinician@demo.test" in result.output and "demo password 1" in result.output
    patients = db.session.scalars(select(User).where(User.role == Role.PATIENT)).all()
    assert len(patients) >= 12
    assert "patient01@demo.test" in {p.email for p in patients}
    assert len({p.timezone for p in patients}) >= 8
    assert len({(tuple(p.patient.substances), p.patient.tracks_pain) for p in patients}) >= 6
    teams = {}
    for member in db.session.scalars(select(CareTeamMember)):
        teams.setdefault(db.session.get(User, member.clinician_id).email, set()).add(member.patient_id)
    assert set(teams) == {"clinician@demo.test", "clinician2@demo.test"}
    assert teams["clinician@demo.test"].isdisjoint(teams["clinician2@demo.test"])


def test_demo_is_idempotent(app):
    _run(app, "--password", "demo password 1")
    counts = db.session.scalar(select(func.count()).select_from(User))
    result = _run(app)
    assert result.exit_code == 0
    assert "already there; passwords unchanged" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == counts
    admin = db.session.scalar(select(User).where(User.email == "admin@demo.test"))
    assert password_matches(admin.password_hash, "demo password 1")


def test_demo_with_a_new_password_resets_the_demo_logins(app):
    _run(app, "--password", "demo password 1")
    _run(app, "--password", "demo password 2")
    db.session.expire_all()
    admin = db.session.scalar(select(User).where(User.email == "admin@demo.test"))
    assert password_matches(admin.password_hash, "demo password 2")


def test_demo_without_password_prints_a_random_one_that_works(app):
    result = _run(app)
    password = result.output.strip().splitlines()[-1].split("password: ")[1]
    clinician = db.session.scalar(select(User).where(User.email == "clinician@demo.test"))
    assert password_matches(clinician.password_hash, password)


def test_create_user_makes_the_first_admin(app):
    result = app.test_cli_runner().invoke(
        args=["create-user", "--email", "Boss@Clinic.test", "--name", "Boss", "--password", "long enough pw"]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "boss@clinic.test"))
    assert user.role == Role.ADMIN and user.is_active


def test_create_user_rejects_an_unknown_time_zone(app):
    result = app.test_cli_runner().invoke(
        args=[
            "create-user",
            "--email",
            "a@b.test",
            "--name",
            "A",
            "--password",
            "long enough pw",
            "--timezone",
            "Nowhere",
        ]
    )
    assert result.exit_code != 0
    assert "not an IANA time zone" in result.output
