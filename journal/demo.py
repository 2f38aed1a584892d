"""The demo clinic: staff on two separate care teams and a dozen patients with varied programmes and zones.

Seeding is idempotent: a second run finds the clinic and only resets the demo passwords when asked to.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .accounts import hash_password
from .models import CareTeamMember, Clinic, Patient, Role, User

DEMO_CLINIC = "Demo Clinic"
DEMO_DOMAIN = "demo.test"


@dataclass(frozen=True)
class DemoPatient:
    name: str
    timezone: str
    substances: list[str] = field(default_factory=list)
    tracks_pain: bool = False
    sleep_detail: bool = True
    clinician: str = "clinician"


# Zones chosen to exercise the calendar: northern and southern clock changes, half-hour and 45-minute offsets,
# and zones without daylight saving.
DEMO_PATIENTS = [
    DemoPatient("Avery Brooks", "America/New_York", ["alcohol"]),
    DemoPatient("Jordan Lee", "America/Chicago", ["opioids", "nicotine"]),
    DemoPatient("Riley Patel", "America/Denver", [], tracks_pain=True),
    DemoPatient("Casey Nguyen", "America/Los_Angeles", ["stimulants", "cannabis"]),
    DemoPatient("Morgan Diaz", "America/Phoenix", []),
    DemoPatient("Quinn Harper", "Pacific/Honolulu", ["alcohol", "benzodiazepines"]),
    DemoPatient("Taylor Kim", "Europe/London", ["ketamine"], sleep_detail=False),
    DemoPatient("Jamie Rossi", "Asia/Kolkata", [], tracks_pain=True),
    DemoPatient("Drew Walker", "Asia/Kathmandu", ["opioids"], clinician="clinician2"),
    DemoPatient("Skyler Moreau", "Australia/Sydney", ["alcohol"], clinician="clinician2"),
    DemoPatient("Parker Singh", "America/St_Johns", ["cannabis", "other"], clinician="clinician2"),
    DemoPatient("Reese Okoro", "Australia/Adelaide", [], tracks_pain=True, clinician="clinician2"),
]

STAFF = [
    ("admin", "Alex Admin", Role.ADMIN),
    ("clinician", "Dr Maya Okafor", Role.CLINICIAN),
    ("clinician2", "Dr Sam Reyes", Role.CLINICIAN),
]


def demo_email(local: str) -> str:
    return f"{local}@{DEMO_DOMAIN}"


def patient_email(number: int) -> str:
    return demo_email(f"patient{number:02d}")


def all_demo_emails() -> list[str]:
    return [demo_email(local) for local, _, _ in STAFF] + [patient_email(i) for i in range(1, len(DEMO_PATIENTS) + 1)]


def _no_progress(iterable, **_kwargs):
    return contextlib.nullcontext(iterable)


def seed_demo(
    session: Session, password: str, now: datetime, progress=_no_progress, reset_passwords: bool = True
) -> tuple[bool, list[str]]:
    """Create the demo clinic unless it exists. Returns (created, the demo accounts' e-mails).

    When it exists already and ``reset_passwords`` is true, every demo account's password is set to
    ``password``, so that the logins a caller prints are the ones that work.
    """
    # One hash for every demo account: they share the password, and argon2 costs ~50 ms a call.
    password_hash = hash_password(password)
    emails = all_demo_emails()
    clinic = session.scalar(select(Clinic).where(Clinic.name == DEMO_CLINIC))
    if clinic is not None:
        if not reset_passwords:
            return False, emails
        session.execute(
            update(User)
            .where(User.email.in_(emails))
            .values(password_hash=password_hash, failed_logins=0, locked_until=None)
        )
        session.commit()
        return False, emails

    clinic = Clinic(name=DEMO_CLINIC, created_at=now)
    session.add(clinic)
    session.flush()
    staff: dict[str, User] = {}
    for local, name, role in STAFF:
        staff[local] = _user(clinic, demo_email(local), name, role, "America/New_York", password_hash, now)
        session.add(staff[local])
    session.flush()

    with progress(list(enumerate(DEMO_PATIENTS, start=1)), label="Seeding demo patients") as rows:
        for number, spec in rows:
            enrolled = now - timedelta(days=120 - 3 * number)
            user = _user(clinic, patient_email(number), spec.name, Role.PATIENT, spec.timezone, password_hash, enrolled)
            session.add(user)
            session.flush()
            session.add(
                Patient(
                    user_id=user.id,
                    substances=spec.substances,
                    tracks_pain=spec.tracks_pain,
                    sleep_detail=spec.sleep_detail,
                    enrolled_at=enrolled,
                    enrolled_by_id=staff[spec.clinician].id,
                )
            )
            session.flush()  # the care-team row refers to the patient row
            session.add(CareTeamMember(patient_id=user.id, clinician_id=staff[spec.clinician].id, added_at=enrolled))
    session.commit()
    return True, emails


def _user(clinic: Clinic, email: str, name: str, role: Role, zone: str, password_hash: str, at: datetime) -> User:
    return User(
        clinic_id=clinic.id,
        email=email,
        name=name,
        role=role,
        timezone=zone,
        password_hash=password_hash,
        created_at=at,
        activated_at=at,
    )
