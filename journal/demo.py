"""The demo clinic: staff on two separate care teams and a dozen patients with varied programmes and zones.

Seeding is idempotent: a second run finds the clinic and only resets the demo passwords when asked to.
"""

from __future__ import annotations

import contextlib
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .accounts import hash_password
from .models import (
    CareTeamMember,
    CheckIn,
    Clinic,
    CravingRating,
    EntrySource,
    Patient,
    ReportMode,
    Role,
    SleepRecord,
    SubstanceUse,
    User,
)
from .sleep import QUALITIES, Night, compute, resolve_clock_times

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
            seed_history(session, user, spec, number, now)
    session.commit()
    return True, emails


# --- History: what months in treatment look like ------------------------------------------------------------

INDUCTION = (0, 2, 4, 7, 9, 11)  # days after the first session: six infusions over ~2 weeks (SPEC 7.1)
MAINTENANCE_EVERY = 28


def session_days(first_session: date, until: date) -> list[date]:
    """The demo's dosing days: an induction series, then a maintenance session every four weeks."""
    days = [first_session + timedelta(days=d) for d in INDUCTION]
    while days[-1] + timedelta(days=MAINTENANCE_EVERY) <= until:
        days.append(days[-1] + timedelta(days=MAINTENANCE_EVERY))
    return [d for d in days if d <= until]


def treatment_effect(day: date, sessions: list[date]) -> float:
    """0 before treatment; each session lifts it, and the lift fades over about three weeks (SPEC 7.2)."""
    effect = 0.0
    for given in sessions:
        if given <= day:
            effect = min(1.0, effect * 0.6 + 0.55 * math.exp(-(day - given).days / 20))
    return effect


def seed_history(session: Session, user: User, spec: DemoPatient, number: int, now: datetime) -> None:
    """Months of daily check-ins for one demo patient, deterministic for a given patient number."""
    rng = random.Random(number)
    zone = ZoneInfo(user.timezone)
    today = now.astimezone(zone).date()
    start = user.created_at.astimezone(zone).date()
    sessions = session_days(start + timedelta(days=14), today)
    adherence = 0.62 + 0.3 * rng.random()
    gap_until = start
    for offset in range((today - start).days + 1):
        day = start + timedelta(days=offset)
        if day < gap_until:
            continue
        if rng.random() < 0.02:  # now and then a run of missed days, as in real adherence
            gap_until = day + timedelta(days=rng.randint(2, 6))
            continue
        if day != today and rng.random() > adherence:
            continue
        session.add(_demo_checkin(rng, user, spec, day, zone, treatment_effect(day, sessions), today))


def _demo_checkin(rng, user: User, spec: DemoPatient, day: date, zone: ZoneInfo, effect: float, today: date) -> CheckIn:
    relapse = 1.0 if rng.random() < 0.06 else 0.0  # a rough day: cravings flare, mood dips
    mood = _clamp(round(3 + 4 * effect - 2 * relapse + rng.gauss(0, 1)))
    entered = datetime.combine(day, time(20, rng.randint(0, 59)), tzinfo=zone)
    checkin = CheckIn(
        patient_id=user.id,
        local_date=day,
        mood=mood,
        pain=_clamp(round(7 - 3 * effect + rng.gauss(0, 1))) if spec.tracks_pain else None,
        side_effects=[rng.choice(["headache", "nausea", "dissociation", "sleepiness"])] if rng.random() < 0.08 else [],
        note="",
        report_mode=ReportMode.ON_TIME,
        days_after_event=0,
        source=EntrySource.PATIENT,
        entered_by_id=user.id,
        created_at=entered.astimezone(UTC),
        updated_at=entered.astimezone(UTC),
    )
    for substance in spec.substances:
        craving = _clamp(round(7 - 4 * effect + 3 * relapse + rng.gauss(0, 1.2)))
        used = rng.random() < 0.05 + 0.45 * relapse + 0.25 * (1 - effect) * (craving >= 6)
        checkin.cravings.append(CravingRating(substance=substance, intensity=craving))
        checkin.uses.append(
            SubstanceUse(substance=substance, used=used, amount="2 drinks" if used and substance == "alcohol" else None)
        )
    if spec.sleep_detail and rng.random() < 0.85:
        checkin.sleep = _demo_night(rng, day, zone, effect)
    return checkin


def _demo_night(rng, day: date, zone: ZoneInfo, effect: float) -> SleepRecord:
    bed = time(22 + rng.randint(0, 1), rng.choice([0, 15, 30, 45]))
    reading = rng.choice([0, 10, 20, 30])
    sol = max(5, round(45 - 25 * effect + rng.gauss(0, 8)))
    waso = max(0, round(60 - 35 * effect + rng.gauss(0, 10)))
    sleep_span = sol + waso + round(60 * (5.6 + 1.4 * effect + rng.gauss(0, 0.5)))
    into_bed = resolve_clock_times(
        day, zone, {"into_bed": bed, "tried_sleep": bed, "final_wake": bed, "out_of_bed": bed}
    )["into_bed"]
    tried = into_bed + timedelta(minutes=reading)
    final = tried + timedelta(minutes=sleep_span)
    out = final + timedelta(minutes=rng.choice([5, 10, 20]))
    night = Night(into_bed, tried, final, out, sol_min=sol, awakenings=1 + waso // 20, waso_min=waso)
    metrics = compute(night)
    quality = QUALITIES[min(4, max(0, round(1 + 2.5 * effect + rng.gauss(0, 0.7))))]
    return SleepRecord(
        into_bed=into_bed, tried_sleep=tried, final_wake=final, out_of_bed=out, sol_min=sol,
        awakenings=night.awakenings, waso_min=waso, quality=quality, tib_min=metrics.tib_min, tst_min=metrics.tst_min,
    )  # fmt: skip


def _clamp(value: int, low: int = 0, high: int = 10) -> int:
    return max(low, min(high, value))


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
