"""The demo clinic: staff on two separate care teams and a dozen patients with varied programmes and zones,
treated for every indication the journal knows (depression, PTSD, chronic pain, alcohol and other substance use).

Each patient has a record of every dosing session (an induction course, then maintenance boosters, and the
next ones booked) stored through ``sessions.save_session``, months of daily check-ins and the questionnaires
their indications call for (PHQ-9 and GAD-7 for everyone; PCL-5, PEG, AUDIT-C and PACS) that follow those
sessions' effect, the forms stored through the real scoring and safety pathway (``assessments.submit``), whose
baselines are chosen by the rule (PHQ-R9), never by hand, and the alerts the clinic's rules raise on that data,
the older ones acknowledged with a note. Seeding is idempotent: a second run finds the clinic and only resets
the demo passwords when asked to.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import alerts, assessments, instruments
from .accounts import hash_password
from .models import (
    Alert,
    CareTeamMember,
    CheckIn,
    Clinic,
    CravingRating,
    EntrySource,
    OutboxMessage,
    OutboxStatus,
    Patient,
    ProgrammeChange,
    ReportMode,
    Role,
    SessionStatus,
    SleepRecord,
    SubstanceUse,
    User,
)
from .schemas import DosingSessionSchema
from .scoring import DIFFICULTY, GAD7, PHQ9
from .sessions import save_session
from .sleep import QUALITIES, Night, compute, resolve_clock_times

DEMO_CLINIC = "Demo Clinic"
DEMO_DOMAIN = "demo.test"
# Numbers 555-0100 to 555-0199 (in any area code) are reserved for fiction: no one is called from the demo.
DEMO_CLINIC_PHONE = "(617) 555-0199"
DEMO_CLINIC_HOURS = "Monday to Friday, 8 am to 6 pm Eastern time"
# The demo clinic's own words for its Spanish-speaking patients (a clinic writes these itself: admin settings).
DEMO_CLINIC_SPANISH = {
    "clinic_hours_es": "de lunes a viernes, de 8 a. m. a 6 p. m., hora del Este",
    "review_promise_es": "Su equipo de atención lee las respuestas de los cuestionarios los días laborables, "
    "por lo general el mismo día.",
    "note_review_promise_es": "Su equipo de atención lee las notas en su próxima revisión, por lo general en un "
    "plazo de 2 días laborables.",
}


@dataclass(frozen=True)
class Course:
    """How a patient's questionnaires follow the treatment effect that also drives their daily check-ins.

    A form's total is ``baseline * (1 - strength * min(1, effect / saturation))``, where ``effect`` is the mean
    treatment effect over the form's 14-day recall window (SPEC 1.2): with a low saturation the response lasts
    between maintenance sessions; with a high one it comes and goes with them.
    """

    phq9: int  # the baseline PHQ-9 total (items 1-8; item 9 is set apart)
    gad7: int
    strength: float  # the share of symptoms a full effect removes
    saturation: float = 0.3
    # The relapse story: no maintenance session in the last this-many days (SPEC 7.2: the effect fades).
    maintenance_paused_days: int | None = None
    # A positive item 9 (PHQ-R5) on one form: "baseline", "midcourse", or "recent" (left open for the demo).
    item9: str | None = None
    # The baselines of the questionnaires an indication adds (asked only of patients with that indication).
    pcl5: int = 45  # PTSD: above the provisional cut-point of 31-33
    peg: int = 20  # chronic pain: the sum of the three items (a mean of 6.7)
    pacs: int = 17  # alcohol use: above the reference line at 15
    auditc: int = 7  # alcohol use: a positive screen

    def total(self, instrument: str, effect: float) -> float:
        """The total a form would have without noise; the GAD-7 moves a little less than the PHQ-9, craving and
        pain a little less again. The AUDIT-C is asked at baseline only (AUDC-R7)."""
        baseline, strength = {
            PHQ9: (self.phq9, self.strength),
            GAD7: (self.gad7, 0.9 * self.strength),
            instruments.PCL5.key: (self.pcl5, 0.9 * self.strength),
            instruments.PEG.key: (self.peg, 0.8 * self.strength),
            instruments.PACS.key: (self.pacs, 0.8 * self.strength),
            instruments.AUDITC.key: (self.auditc, 0.0),
        }[instrument]
        return baseline * (1 - strength * min(1.0, effect / self.saturation))


@dataclass(frozen=True)
class Protocol:
    """How a patient is dosed (SPEC 7.1): the induction series, the maintenance interval after it, and what a
    session of this kind records (SPEC 7.4)."""

    route: str
    product: str
    induction: tuple[int, ...]  # days after the first session
    maintenance_every: int  # days between boosters once the series is over
    doses: tuple[float, ...]  # by session number; the last one repeats
    dose_unit: str
    observation: tuple[int, ...]  # minutes from the start of dosing to discharge, one picked per session
    mg_per_kg: float | None = None  # a dose in mg worked out from the weight (recorded with it)
    home_after_first: bool = False  # the first dose is observed in the clinic, the rest are taken at home
    cadss_mean: float = 7.0  # the CADSS total at about 40 minutes, early in the series (KET-R7: tolerability only)

    @property
    def weight_based(self) -> bool:
        return self.dose_unit == "mg/kg" or self.mg_per_kg is not None


INDUCTION = (0, 2, 4, 7, 9, 11)  # days after the first session: six infusions over ~2 weeks (SPEC 7.1)

IV = Protocol(
    "iv", "Racemic ketamine", INDUCTION, 28, (0.5,), "mg/kg", (60, 75, 90), cadss_mean=11.0,
)  # fmt: skip
# The label's schedule: twice weekly in weeks 1-4, weekly in weeks 5-8, then every other week; 56 mg on day 1.
ESKETAMINE = Protocol(
    "intranasal", "Esketamine (Spravato)", (0, 3, 7, 10, 14, 17, 21, 24, 28, 35, 42, 49), 14, (56, 84), "mg",
    (120,), cadss_mean=7.0,
)  # fmt: skip
IM = Protocol(
    "im", "Racemic ketamine", INDUCTION, 28, (), "mg", (60, 75, 90), mg_per_kg=0.6, cadss_mean=8.0,
)  # fmt: skip
# Very-low-dose sublingual ketamine every 2-3 days for four weeks, then weekly, at home after an observed first dose.
SUBLINGUAL_HOME = Protocol(
    "sublingual", "Racemic ketamine lozenge (compounded)", (0, 2, 4, 7, 9, 11, 14, 16, 18, 21, 23, 25), 7, (10,),
    "mg", (90,), home_after_first=True, cadss_mean=3.0,
)  # fmt: skip


@dataclass(frozen=True)
class DemoPatient:
    name: str
    timezone: str
    indications: tuple[str, ...]  # keys of instruments.INDICATIONS; their daily items are in the programme below
    substances: list[str] = field(default_factory=list)
    tracks_pain: bool = False
    sleep_detail: bool = True
    clinician: str = "clinician"
    course: Course = Course(15, 11, 0.6)
    urinary_check: bool = False  # KET-R4
    protocol: Protocol = IV
    bp_rise_at: int | None = None  # the given session (from 0) with a >= 40 mmHg systolic rise (SPEC 7.4)
    # What a newcomer signing in as this patient should meet: today's check-in still to do, and the PHQ-9 and
    # GAD-7 due today (whose item 9 leads to the crisis screen).
    open_today: bool = False


# Zones chosen to exercise the calendar: northern and southern clock changes, half-hour and 45-minute offsets,
# and zones without daylight saving. Courses: patient01 responds and remits, patient02 responds and relapses
# when maintenance lapses (a booster review), patient05 has an open safety alert, patient08 barely responds;
# patient01 has not checked in yet today and has the PHQ-9 and GAD-7 due, so a newcomer sees the blank forms.
# Most have IV infusions; patient03 and patient05 intranasal esketamine for treatment-resistant depression,
# patient09 intramuscular injections, patient12 sublingual doses at home.
DEMO_PATIENTS = [
    DemoPatient(
        "Avery Brooks", "America/New_York", ("depression", "alcohol"), ["alcohol"],
        course=Course(18, 13, 0.92, pacs=19, auditc=8), open_today=True,
    ),
    DemoPatient(
        "Jordan Lee", "America/Chicago", ("depression", "substance_use"), ["opioids", "nicotine"],
        course=Course(17, 12, 0.85, maintenance_paused_days=45),
    ),
    DemoPatient(
        "Riley Patel", "America/Denver", ("depression", "chronic_pain"), [], tracks_pain=True, urinary_check=True,
        course=Course(22, 15, 0.65, item9="baseline", peg=22), protocol=replace(ESKETAMINE, doses=(56,)),
    ),
    DemoPatient(
        "Casey Nguyen", "America/Los_Angeles", ("ptsd", "substance_use"), ["stimulants", "cannabis"],
        course=Course(13, 16, 0.7, pcl5=48),
    ),
    DemoPatient(
        "Morgan Diaz", "America/Phoenix", ("depression",), [], course=Course(19, 11, 0.35, item9="recent"),
        protocol=ESKETAMINE, bp_rise_at=1,
    ),
    DemoPatient(
        "Quinn Harper", "Pacific/Honolulu", ("alcohol", "substance_use"), ["alcohol", "benzodiazepines"],
        course=Course(15, 17, 0.75, pacs=16, auditc=6),
    ),
    DemoPatient(
        "Taylor Kim", "Europe/London", ("ptsd",), ["ketamine"], sleep_detail=False, urinary_check=True,
        course=Course(12, 9, 0.75, pcl5=39),
    ),
    DemoPatient(  # a poor response: the dose goes up after three infusions
        "Jamie Rossi", "Asia/Kolkata", ("chronic_pain",), [], tracks_pain=True, course=Course(16, 10, 0.2, peg=19),
        protocol=replace(IV, doses=(0.5, 0.5, 0.5, 0.75)),
    ),
    DemoPatient(
        "Drew Walker", "Asia/Kathmandu", ("substance_use",), ["opioids"], clinician="clinician2",
        course=Course(14, 12, 0.75), protocol=IM,
    ),
    DemoPatient(
        "Skyler Moreau", "Australia/Sydney", ("depression", "alcohol"), ["alcohol"], clinician="clinician2",
        course=Course(20, 14, 0.7, item9="midcourse", pacs=21, auditc=9),
    ),
    DemoPatient(
        "Parker Singh", "America/St_Johns", ("ptsd", "substance_use"), ["cannabis", "other"], clinician="clinician2",
        course=Course(11, 13, 0.35, pcl5=52),
    ),
    DemoPatient(
        "Reese Okoro", "Australia/Adelaide", ("chronic_pain", "depression"), [], tracks_pain=True,
        clinician="clinician2", urinary_check=True, course=Course(17, 8, 0.7, peg=24), protocol=SUBLINGUAL_HOME,
    ),
]  # fmt: skip

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

    clinic = Clinic(
        name=DEMO_CLINIC,
        created_at=now,
        clinic_phone=DEMO_CLINIC_PHONE,
        clinic_hours=DEMO_CLINIC_HOURS,
        **DEMO_CLINIC_SPANISH,
        weekly_during_induction=True,
    )
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
            plan = treatment_plan(user, spec, number, now)
            patient = Patient(
                user_id=user.id,
                indications=list(spec.indications),
                substances=spec.substances,
                tracks_pain=spec.tracks_pain,
                sleep_detail=spec.sleep_detail,
                enrolled_at=enrolled,
                enrolled_by_id=staff[spec.clinician].id,
                urinary_check=spec.urinary_check,
                induction_until=plan.induction_until,
                # Numbers from 555-0100 to 555-0199, which North American numbering keeps for fiction.
                phone=f"+1312555{100 + number:04d}",
                emergency_contact_name="Sam (partner)" if number % 2 else "Alex (sibling)",
                emergency_contact_phone=f"+1312555{150 + number:04d}",
            )
            user.patient = patient
            session.add(patient)
            session.flush()  # the care-team row refers to the patient row
            session.add(CareTeamMember(patient_id=user.id, clinician_id=staff[spec.clinician].id, added_at=enrolled))
            session.add(
                ProgrammeChange(
                    patient_id=user.id, effective_at=enrolled, changed_by_id=staff[spec.clinician].id,
                    substances=spec.substances, tracks_pain=spec.tracks_pain, sleep_detail=spec.sleep_detail,
                    indications=list(spec.indications),
                )
            )  # fmt: skip
            seed_sessions(session, patient, spec, number, plan, staff[spec.clinician], now)
            seed_history(session, user, spec, number, plan, now)
            seed_questionnaires(session, patient, spec, number, plan, staff[spec.clinician], now)
    acknowledge_older_alerts(session, clinic, now)
    session.commit()
    return True, emails


# --- History: what months in treatment look like ------------------------------------------------------------

DAYS_BEFORE_FIRST_SESSION = 14  # enrolment to the first session; the baseline forms fall in between (PHQ-R9)
CLINIC_SLOTS = (time(8, 30), time(9, 0), time(10, 0), time(11, 30), time(13, 0), time(14, 30))


def session_days(first_session: date, until: date, protocol: Protocol = IV) -> list[date]:
    """The demo's dosing days: an induction series, then a maintenance session at the protocol's interval."""
    days = [first_session + timedelta(days=d) for d in protocol.induction]
    while days[-1] + timedelta(days=protocol.maintenance_every) <= until:
        days.append(days[-1] + timedelta(days=protocol.maintenance_every))
    return [d for d in days if d <= until]


def treatment_effect(day: date, sessions: list[date]) -> float:
    """0 before treatment; each session lifts it, and the lift fades over about three weeks (SPEC 7.2)."""
    effect = 0.0
    for given in sessions:
        if given <= day:
            effect = min(1.0, effect * 0.6 + 0.55 * math.exp(-(day - given).days / 20))
    return effect


@dataclass(frozen=True)
class Plan:
    start: date  # the local date of enrolment
    today: date
    sessions: list[date]  # the days a dose was given, up to now: what the effects are built on
    induction_until: date
    starts: dict[date, datetime]  # when each session (given, cancelled or booked) starts
    cancelled: list[date]  # maintenance sessions that did not happen (the relapse story)
    planned: list[date]  # the sessions booked from now on


BOOKED_AHEAD = timedelta(days=14)  # the clinic books the next sessions this far ahead


def treatment_plan(user: User, spec: DemoPatient, number: int, now: datetime) -> Plan:
    """One patient's dosing days: the series, then maintenance, unless the course pauses it (the relapse); a
    session counts from the moment it starts, and the next ones within two weeks are booked."""
    zone = ZoneInfo(user.timezone)
    protocol = spec.protocol
    today = now.astimezone(zone).date()
    start = user.created_at.astimezone(zone).date()
    first = first_weekday(start + timedelta(days=DAYS_BEFORE_FIRST_SESSION))
    induction_until = first + timedelta(days=protocol.induction[-1])
    scheduled = session_days(first, (now + BOOKED_AHEAD).astimezone(zone).date(), protocol)
    starts = {day: session_start(number, spec, zone, first, day) for day in scheduled}
    paused = spec.course.maintenance_paused_days
    cancelled: list[date] = []
    if paused is not None:  # a lapse: the sessions since were missed, the first one cancelled; a booster is booked
        kept = [d for d in scheduled if d <= induction_until or d < today - timedelta(days=paused)]
        cancelled = [d for d in scheduled if d not in kept and starts[d] <= now][:1]
        weekdays = [today + timedelta(days=n) for n in range(2, 6) if (today + timedelta(days=n)).weekday() < 5]
        booster = random.Random(5000 + number).choice(weekdays)  # nosec B311 # demo data
        starts[booster] = session_start(number, spec, zone, first, booster)
        scheduled = [*kept, booster]
    given = [d for d in scheduled if starts[d] <= now]
    planned = [d for d in scheduled if starts[d] > now and starts[d] <= now + BOOKED_AHEAD][:2]
    return Plan(start, today, given, induction_until, starts, cancelled, planned)


def first_weekday(day: date) -> date:
    """The Monday on or after ``day``: every protocol's clinic days (SPEC 7.1) counted from a Monday fall on
    weekdays (Monday, Wednesday, Friday for infusions; Monday and Thursday for esketamine), and so do maintenance
    sessions every 7, 14 or 28 days."""
    return day + timedelta(days=-day.weekday() % 7)


def session_start(number: int, spec: DemoPatient, zone: ZoneInfo, first: date, day: date) -> datetime:
    """The patient's usual clinic slot, a few minutes late now and then; a home dose in the evening."""
    jitter = random.Random(f"{number}:{day.isoformat()}")  # nosec B311 # demo data
    if spec.protocol.home_after_first and day != first:
        at = time(jitter.randint(19, 21), jitter.randrange(0, 60, 5))
    else:
        at = random.Random(4000 + number).choice(CLINIC_SLOTS)  # nosec B311 # demo data
        at = time(at.hour, at.minute + jitter.choice((0, 0, 0, 5, 10)))
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def felt_effect(effect: float, course: Course) -> float:
    """What the patient feels day to day: a weak responder's mood moves as little as their scores do."""
    return effect * min(1.0, course.strength / 0.75)


def seed_history(session: Session, user: User, spec: DemoPatient, number: int, plan: Plan, now: datetime) -> None:
    """Months of daily check-ins for one demo patient, deterministic for a given patient number, and the alerts
    the clinic's daily-data rules raise on them, as ``checkins.save_checkin`` would have."""
    rng = random.Random(number)  # nosec B311 # demo data
    urinary_rng = random.Random(2000 + number)  # nosec B311 # demo data
    zone = ZoneInfo(user.timezone)
    start, today = plan.start, plan.today
    adherence = 0.62 + 0.3 * rng.random()
    gap_until = start
    urinary = _UrinaryCheck(urinary_rng) if spec.urinary_check else None
    seeded: list[CheckIn] = []
    for offset in range((today - start).days + 1):
        day = start + timedelta(days=offset)
        if day < gap_until:
            continue
        if rng.random() < 0.02:  # now and then a run of missed days, as in real adherence
            gap_until = day + timedelta(days=rng.randint(2, 6))
            continue
        if day == today and spec.open_today:  # left for the newcomer to fill in
            continue
        if day != today and rng.random() > adherence:
            continue
        effect = felt_effect(treatment_effect(day, plan.sessions), spec.course)
        checkin = _demo_checkin(rng, user, spec, day, zone, effect, now)
        if checkin is None:
            continue
        if urinary is not None and day >= plan.sessions[0]:  # asked once the course of repeated dosing begins
            checkin.urinary = urinary.answer(day)
        session.add(checkin)
        seeded.append(checkin)
    session.flush()
    threshold = user.clinic.craving_threshold
    for checkin in seeded:  # the same rules, in the same order, as each check-in saved in the app
        if _may_raise_alert(checkin, threshold):
            alerts.evaluate_checkin(session, user.patient, checkin.local_date, checkin.created_at)


def _may_raise_alert(checkin: CheckIn, craving_threshold: int) -> bool:
    """Whether the daily rules could fire on this day: each needs its own trigger on the day itself (a craving
    at the threshold, a use, a urinary symptom). Skipping the other days keeps seeding fast; the tests re-run
    every rule on every seeded day to show that nothing was missed."""
    return (
        any(rating.intensity >= craving_threshold for rating in checkin.cravings)
        or any(use.used for use in checkin.uses)
        or bool(checkin.urinary)
    )


class _UrinaryCheck:
    """KET-R4 as ``checkins.urinary_check_due`` asks it: weekly, and daily while the last answer reported
    something. The demo's answers are mild (frequency, urgency, pain on passing urine): no blood and no bladder
    pain, which would raise an alert."""

    SYMPTOMS = (["frequency"], ["urgency"], ["frequency", "urgency"], ["pain"])

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.last_day: date | None = None
        self.last: list[str] = []

    def answer(self, day: date) -> list[str] | None:
        due = self.last_day is None or bool(self.last) or (day - self.last_day).days >= 7
        if not due:
            return None
        if self.last:
            symptoms = self.last if self.rng.random() < 0.4 else []
        else:
            symptoms = list(self.rng.choice(self.SYMPTOMS)) if self.rng.random() < 0.15 else []
        self.last_day, self.last = day, symptoms
        return sorted(set(symptoms))


def _demo_checkin(
    rng, user: User, spec: DemoPatient, day: date, zone: ZoneInfo, effect: float, now: datetime
) -> CheckIn | None:
    relapse = 1.0 if rng.random() < 0.06 else 0.0  # a rough day: cravings flare, mood dips
    mood = _clamp(round(3 + 4 * effect - 2 * relapse + rng.gauss(0, 1)))
    entered = datetime.combine(day, time(20, rng.randint(0, 59)), tzinfo=zone).astimezone(UTC)
    if entered > now:  # today's check-in: made a little before now, if today has begun long enough for it
        entered = now - timedelta(minutes=rng.randint(5, 50))
        if entered.astimezone(zone).date() != day:
            return None
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
        created_at=entered,
        updated_at=entered,
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


# --- Sessions: every dose a record, as the clinician entered it (KET-R1, SPEC 7.4) -------------------------------

SESSION_SCHEMA = DosingSessionSchema()
BP_CHECK_AFTER = timedelta(minutes=40)  # post-dose pressure and CADSS are taken about 40 minutes in (SPEC 7.4)
BP_RISE_NOTE = (
    "BP {systolic}/{diastolic} at 40 min without symptoms; rechecked every 15 min, settled to {settled} before "
    "discharge. Observation extended."
)
HOME_NOTE = "First dose at home, as prescribed; entered from the patient's dosing log, as the ones after it are."
CANCELLED_NOTE = "Patient cancelled (work travel); to rebook."
SESSION_NOTES = (
    "Mild nausea, settled without medication.",
    "Tolerated well; talked about the week's therapy session afterwards.",
    "Brief anxiety at onset, settled with reassurance.",
    "Mild headache after the session; fluids.",
    "Drowsy at discharge; went home with a friend driving.",
)


def seed_sessions(
    session: Session, patient: Patient, spec: DemoPatient, number: int, plan: Plan, clinician: User, now: datetime
) -> None:
    """The sessions behind the demo's effects: each day in ``plan.sessions`` a given session (the series in an
    induction course, then maintenance), a cancelled one where maintenance lapsed, and the next ones booked.
    Each goes through the API's schema and ``save_session``, entered by the patient's clinician when it
    happened."""
    rng = random.Random(6000 + number)  # nosec B311 # demo data
    protocol = spec.protocol
    first = min(plan.starts)  # the day of the first session
    weight = round(rng.uniform(55, 105) * 2) / 2 if protocol.weight_based else None
    pressure = (rng.randint(120, 134), rng.randint(76, 86), rng.randint(62, 80))  # the patient's usual pre-dose
    days = sorted(
        [(day, SessionStatus.GIVEN) for day in plan.sessions]
        + [(day, SessionStatus.CANCELLED) for day in plan.cancelled]
        + [(day, SessionStatus.PLANNED) for day in plan.planned]
    )
    given_count = 0
    booked_at = None  # the end of the session before, when the next one was booked
    for day, status in days:
        start = plan.starts[day]
        home = protocol.home_after_first and day != first
        dose_number = given_count if status == SessionStatus.GIVEN else len(plan.sessions)
        data = {
            "start": start.isoformat(),
            "status": status.value,
            "route": protocol.route,
            "product": protocol.product,
            "dose": _dose(protocol, dose_number, weight),
            "dose_unit": protocol.dose_unit,
            "weight_kg": weight,
            "setting": "home" if home else "clinic",
            "course": "induction" if day <= plan.induction_until else "maintenance",
        }
        entered = min(now, booked_at or start - timedelta(days=DAYS_BEFORE_FIRST_SESSION))
        if status == SessionStatus.GIVEN and home:  # entered from the patient's log within a day or so
            data["notes"] = HOME_NOTE if given_count == 1 else ""
            entered = booked_at = min(now, start + timedelta(hours=rng.randint(12, 36)))
            given_count += 1
        elif status == SessionStatus.GIVEN:
            measures, end = _given_measures(rng, spec, given_count, pressure, start, now)
            data.update(measures)
            entered = booked_at = min(now, end)
            given_count += 1
        elif status == SessionStatus.CANCELLED:
            data["notes"] = CANCELLED_NOTE
            entered = start - timedelta(hours=rng.randint(20, 30))
        elif plan.cancelled:  # the booster after a lapse, booked a day or so ago (after the booster review)
            entered = now - timedelta(hours=rng.randint(20, 40))
        record = save_session(session, patient, SESSION_SCHEMA.load(data), entered, clinician)
        if day == plan.induction_until and status == SessionStatus.GIVEN and record.course is not None:
            record.course.ended_on = day  # the clinician closes the series at its last session
    session.flush()


def _dose(protocol: Protocol, number: int, weight: float | None) -> float:
    if protocol.mg_per_kg is not None:
        return 5.0 * round(protocol.mg_per_kg * weight / 5)
    return protocol.doses[min(number, len(protocol.doses) - 1)]


def _given_measures(
    rng, spec: DemoPatient, number: int, usual: tuple[int, int, int], start: datetime, now: datetime
) -> tuple[dict, datetime]:
    """The at-session measures of a session given in the clinic (SPEC 7.4), as far as they have been taken by
    ``now``: pressure and heart rate before dosing; pressure, heart rate and the CADSS total about 40 minutes
    in; the discharge. Returns them, and when the session ended (or ends)."""
    protocol = spec.protocol
    systolic, diastolic, rate = usual
    pre = (  # over 140/90 the session would have been delayed
        min(140, round(systolic + rng.gauss(0, 4))),
        min(90, round(diastolic + rng.gauss(0, 3))),
        round(rate + rng.gauss(0, 5)),
    )
    measures = {"bp_systolic_pre": pre[0], "bp_diastolic_pre": pre[1], "heart_rate_pre": pre[2], "notes": ""}
    rise = protocol.route == "intranasal" and number == spec.bp_rise_at
    observation = rng.choice(protocol.observation) + (30 if rise else 0)
    if start + BP_CHECK_AFTER <= now:
        if rise:
            up = (42 + rng.randint(0, 4), 24 + rng.randint(0, 3))
        else:
            lift = {"intranasal": 16, "sublingual": 6}.get(protocol.route, 10)
            up = (max(0, round(rng.gauss(lift, 5))), max(0, round(rng.gauss(lift / 2, 3))))
        measures.update(
            bp_systolic_post=pre[0] + up[0],
            bp_diastolic_post=pre[1] + up[1],
            heart_rate_post=round(pre[2] + max(0.0, rng.gauss(6, 4))),
            # Dissociation fades over a series (tolerability only: KET-R7).
            dissociation_score=max(0, min(92, round(rng.gauss(protocol.cadss_mean - 0.4 * min(number, 6), 3.5)))),
        )
        if rise:
            settled = f"{pre[0] + rng.randint(8, 14)}/{pre[1] + rng.randint(4, 8)}"
            measures["notes"] = BP_RISE_NOTE.format(
                systolic=measures["bp_systolic_post"], diastolic=measures["bp_diastolic_post"], settled=settled
            )
        elif rng.random() < 0.15:
            measures["notes"] = rng.choice(SESSION_NOTES)
    end = start + timedelta(minutes=observation)
    if end <= now:
        measures.update(observation_minutes=observation, discharge_at=end.isoformat())
    return measures, end


# --- Questionnaires: PHQ-9 and GAD-7 through the real scoring and safety pathway ------------------------------

# How strongly each item carries a patient's symptoms (before a per-patient twist): sleep and fatigue lead,
# psychomotor change trails (PHQ-9 items 1-8: item 9 is set apart, never spread onto); restlessness trails on
# the GAD-7.
ITEM_WEIGHTS = {
    PHQ9: (1.0, 1.1, 1.3, 1.4, 0.9, 0.9, 1.0, 0.5),
    GAD7: (1.3, 1.2, 1.2, 1.1, 0.6, 1.0, 0.8),
}
RECALL_DAYS = 14  # both forms ask about the last two weeks (SPEC 1.2, 2.2)
RECENT_SAFETY_FORM_AGE = timedelta(minutes=15)  # the open safety alert: a form just in, not yet escalated


def form_instants(
    rng, plan: Plan, zone: ZoneInfo, clinic: Clinic, now: datetime, recent: bool, due_today: bool = False
) -> list[datetime]:
    """When the patient completed their forms: a baseline a few days before the first session (PHQ-R9), then
    on the clinic's cadence (weekly during the series, PHQ-R13), each a day or two late now and then, never
    within 7 days of the one before (SPEC 1.10) and never after ``now``. With ``due_today``, the last one was
    a full interval ago (or a little more), so the next is due today."""
    baseline_day = plan.sessions[0] - timedelta(days=rng.randint(2, 8))
    days = [baseline_day]
    day = baseline_day
    last = plan.today
    if due_today:
        last = plan.today - timedelta(days=assessments.interval_days(clinic, plan.induction_until, plan.today))
    while (day := day + timedelta(days=1)) <= last:
        interval = assessments.interval_days(clinic, plan.induction_until, day)
        due = days[-1] + timedelta(days=interval)
        if day >= due and (rng.random() < 0.6 or day >= due + timedelta(days=2)):
            days.append(day)
    if due_today and (last - days[-1]).days >= assessments.MIN_GAP.days:
        days.append(last)  # filled in on the day it was due: the next is due today
    instants: list[datetime] = []
    for day in days:
        at = datetime.combine(day, time(rng.randint(18, 21), rng.randint(0, 59)), tzinfo=zone).astimezone(UTC)
        if instants and at - instants[-1] < assessments.MIN_GAP:
            at = instants[-1] + assessments.MIN_GAP + timedelta(minutes=rng.randint(5, 90))
        if at >= now:
            break
        instants.append(at)
    if recent:  # the form that raises the open safety alert: completed a few minutes ago
        at = now - RECENT_SAFETY_FORM_AGE
        instants = [i for i in instants if at - i >= assessments.MIN_GAP] + [at]
    return instants


def recall_effect(day: date, sessions: list[date]) -> float:
    """The mean treatment effect over a form's 14-day recall window, ending on ``day``."""
    return sum(treatment_effect(day - timedelta(days=n), sessions) for n in range(RECALL_DAYS)) / RECALL_DAYS


def item_answers(rng, total: int, weights: list[float], top: int = 3) -> list[int]:
    """Answers 0-``top`` that add up to ``total``, spread over the items by this patient's symptom profile."""
    answers = [0] * len(weights)
    for _ in range(min(total, top * len(weights))):
        open_items = [i for i, answer in enumerate(answers) if answer < top]
        answers[rng.choices(open_items, [weights[i] for i in open_items])[0]] += 1
    return answers


def difficulty_for(rng, total: int) -> str:
    """PHQ-9 item 10 roughly tracks severity (SPEC 1.5)."""
    level = 0 if total < 5 else 1 if total < 10 else 2 if total < 20 else 3
    return DIFFICULTY[max(0, min(3, level + rng.choice((-1, 0, 0, 0, 1))))]


def seed_questionnaires(
    session: Session, patient: Patient, spec: DemoPatient, number: int, plan: Plan, clinician: User, now: datetime
) -> None:
    """PHQ-9 and GAD-7 together on the clinic's cadence, each submitted at its completion instant through
    ``assessments.submit`` (so scoring, ``days_since_previous``, the alerts and the baselines are the app's own:
    each baseline is the form the rule chooses before the first session, PHQ-R9); then the questionnaires the
    patient's indications add."""
    rng = random.Random(1000 + number)  # nosec B311 # demo data
    user, course = patient.user, spec.course
    zone = ZoneInfo(user.timezone)
    weights = {name: [w * rng.uniform(0.6, 1.4) for w in ITEM_WEIGHTS[name]] for name in (PHQ9, GAD7)}
    instants = form_instants(
        rng, plan, zone, user.clinic, now, recent=course.item9 == "recent", due_today=spec.open_today
    )
    positive_form = {"baseline": 0, "midcourse": len(instants) // 2, "recent": len(instants) - 1}.get(course.item9)
    for index, completed in enumerate(instants):
        effect = recall_effect(completed.astimezone(zone).date(), plan.sessions)
        item9 = 1 if index == positive_form else 0
        for offset, instrument in enumerate((PHQ9, GAD7)):
            spread_over = weights[instrument]  # every item but the PHQ-9's item 9
            points = round(course.total(instrument, effect) + rng.gauss(0, 0.8)) - item9
            answers = item_answers(rng, max(0, min(3 * len(spread_over), points)), spread_over)
            data = {"instrument": instrument, "answers": answers, "completed_at": completed + timedelta(minutes=offset)}
            if instrument == PHQ9:
                answers.append(item9)
                data["difficulty"] = difficulty_for(rng, sum(answers))
            assessments.submit(session, patient, data, data["completed_at"] + timedelta(seconds=20), user)
    seed_indication_forms(session, patient, spec, rng, plan, clinician, instants, now)
    session.flush()


# How each questionnaire an indication adds is answered: the items' highest answer, and how strongly each item
# carries the patient's symptoms (pain intensity leads interference on the PEG; a few PCL-5 items trail).
INDICATION_ITEMS = {
    instruments.PCL5.key: (4, (1.2, 1.0, 0.8, 1.2, 1.0, 1.1, 1.1, 0.6, 1.0, 0.9, 1.2, 1.0, 1.0, 1.0, 0.9, 0.5, 1.2,
                               1.1, 1.1, 1.3)),
    instruments.PEG.key: (10, (1.2, 1.0, 1.0)),
    instruments.PACS.key: (6, (1.2, 1.0, 0.9, 1.0, 1.1)),
    instruments.AUDITC.key: (4, (1.0, 1.0, 0.7)),
}  # fmt: skip
PCL5_EVERY = timedelta(days=28)  # PCL-R10: monthly
PEG_EVERY = timedelta(days=7)  # PEG-R6: weekly
PACS_BEFORE_DOSING = timedelta(minutes=30)  # filled in on the clinic's copy while waiting for the session


def seed_indication_forms(
    session: Session,
    patient: Patient,
    spec: DemoPatient,
    rng,
    plan: Plan,
    clinician: User,
    instants: list[datetime],
    now: datetime,
) -> None:
    """The questionnaires the patient's indications add (SPEC 11), before and after the first session, each
    through ``assessments.submit`` like the PHQ-9: the PCL-5 monthly and the PEG weekly with the PHQ-9 (the
    patient's own), the AUDIT-C once at baseline (AUDC-R7), and the PACS entered by the clinician from the
    clinic's copy (PACS-R3), filled in at the baseline visit and then before a session in the clinic, weekly."""
    zone = ZoneInfo(patient.user.timezone)
    wanted = [i.key for i in instruments.for_patient(patient) if i.indication != instruments.EVERYONE]
    entries: list[tuple[str, datetime, User]] = []  # (instrument, completed at, entered by)
    for key in wanted:
        if key == instruments.PACS.key:
            visits = [instants[0], *(plan.starts[day] - PACS_BEFORE_DOSING for day in plan.sessions)]
            if spec.protocol.home_after_first:
                visits = visits[:2]  # the later doses are taken at home
            chosen: list[datetime] = []
            for at in sorted(visits):
                if at < now and (not chosen or at - chosen[-1] >= timedelta(days=7)):
                    chosen.append(at)
            entries += [(key, at, clinician) for at in chosen]
            continue
        if key == instruments.AUDITC.key:
            chosen = instants[:1]
        elif key == instruments.PCL5.key:
            chosen = list(instants[:1])
            for at in instants[1:]:
                if at - chosen[-1] >= PCL5_EVERY:
                    chosen.append(at)
        else:  # the PEG weekly (PEG-R6): with each PHQ-9, and midway between two a fortnight or more apart
            chosen = instants[:1]
            for before, after in itertools.pairwise(instants):
                if after - before >= 2 * PEG_EVERY:
                    chosen.append(before + (after - before) / 2)
                chosen.append(after)
        entries += [(key, at + timedelta(minutes=3), patient.user) for at in chosen]
    for key, completed, by in sorted(entries, key=lambda entry: entry[1]):
        top, weights = INDICATION_ITEMS[key]
        effect = recall_effect(completed.astimezone(zone).date(), plan.sessions)
        total = max(0, round(spec.course.total(key, effect) + rng.gauss(0, 1.2)))
        answers = item_answers(rng, total, [w * rng.uniform(0.8, 1.2) for w in weights], top)
        if key == instruments.AUDITC.key and total and answers[0] == 0:  # AUDC-R4: a drinker's item 1 is not "Never"
            answers[answers.index(max(answers))] -= 1
            answers[0] += 1
        data = {"instrument": key, "answers": answers, "completed_at": completed}
        # A patient sends the form as they finish it; the clinician enters the paper form later that day.
        entered = completed + (timedelta(seconds=20) if by is patient.user else timedelta(hours=rng.randint(1, 5)))
        assessments.submit(session, patient, data, min(now, entered), by)


# --- Alerts: the older ones have been dealt with ----------------------------------------------------------------

OPEN_FOR = timedelta(days=3)  # alerts younger than this are still waiting for the care team

SAFETY_NOTES = {  # by Course.item9
    "baseline": (
        "Phoned the same day. Passive thoughts, no plan or intent; protective factors discussed. Safety plan "
        "written together; first session kept."
    ),
    "midcourse": (
        "Phoned within the hour. Passive thoughts during a hard week, no plan or intent. Safety plan reviewed, "
        "988 and clinic numbers confirmed; extra therapy session booked."
    ),
}
ACK_NOTES = {
    "booster_review": [
        "Reviewed the PHQ-9 trend with the patient by phone; booster infusion being scheduled.",
        "Discussed at team meeting: bring the next maintenance session forward.",
    ],
    "craving": [
        "Talked it through at the therapy session; coping plan updated.",
        "Phoned the patient; cravings easing. Reviewed triggers and support contacts.",
    ],
    "use_after_abstinence": [
        "Discussed with the patient; no harm reported. Relapse-prevention plan revisited.",
        "Patient called back; a single lapse. Plan reviewed with their therapist.",
    ],
    "urinary": ["Urine dip at next session; advised fluids and to report any blood."],
}


def acknowledge_older_alerts(session: Session, clinic: Clinic, now: datetime) -> None:
    """Every alert older than a few days was acknowledged by the patient's clinician with a note (a high one
    within minutes, before it would escalate; others within a working day); the newer ones are still open. The
    e-mails about all but the newest were delivered at the time."""
    clinician_of = {
        user_id: clinician
        for user_id, clinician in session.execute(
            select(CareTeamMember.patient_id, User).join(User, User.id == CareTeamMember.clinician_id)
        )
    }
    specs = {patient_email(number): spec for number, spec in enumerate(DEMO_PATIENTS, start=1)}
    rng = random.Random(3000)  # nosec B311 # demo data
    rows = session.scalars(
        select(Alert).join(User, User.id == Alert.patient_id).where(User.clinic_id == clinic.id).order_by(Alert.id)
    ).all()
    for alert in rows:
        if alert.created_at <= now - timedelta(hours=1):
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.dedup_key.like(f"alert:{alert.id}:%"))
                .values(status=OutboxStatus.SENT, attempts=1, sent_at=alert.created_at + timedelta(minutes=1))
            )
        if alert.created_at > now - OPEN_FOR:
            continue
        if alert.kind == "safety_item9":
            note = SAFETY_NOTES[specs[alert.patient.user.email].course.item9]
        else:
            note = rng.choice(ACK_NOTES.get(alert.kind, ["Reviewed with the patient."]))
        if alert.severity == "high":  # before it would have escalated (SAFE-R3)
            delay = timedelta(minutes=rng.randint(5, max(5, clinic.escalation_minutes - 5)))
        else:
            delay = timedelta(hours=rng.randint(1, 20))
        alerts.acknowledge(session, alert, clinician_of[alert.patient_id], note, alert.created_at + delay)


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
