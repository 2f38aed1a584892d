"""What the post-session checks (KET-R3) bring to the care team: the answers beside their session, the alerts for
the answers that need a person, and the daily check-in's side-effect counts over the last 14 days.

An answer is read as stored: its ``kind`` (which check it was) and ``completed_at`` (when it was actually sent)
are written once, when the patient first answers, and a check is only taken while it is open (see
journal.sessions.check_window), so a late answer cannot carry another check's label.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .alerts import raise_alert
from .checkins import SIDE_EFFECTS
from .models import CheckIn, SideEffectCheck

# A 0-10 rating at or above this raises an alert. No clinic setting fits (the craving threshold is about craving),
# so it is a module constant: a product decision, not a published cut-off (SPEC 12.8).
SEVERE_RATING = 8
CHECK_LABELS = {"morning_after": "Morning-after check", "72h": "72-hour check"}
SIDE_EFFECT_DAYS = 14


@dataclass(frozen=True)
class CheckAnswers:
    kind: str
    label: str
    completed_at: datetime
    skipped: bool
    ratings: list[tuple[str, str, int]]  # (item, label, 0-10), in the form's order
    drove: bool | None

    @property
    def severe(self) -> list[tuple[str, str, int]]:
        return [rating for rating in self.ratings if rating[2] >= SEVERE_RATING]


def answers_of(check: SideEffectCheck) -> CheckAnswers:
    ratings = [(item, label, check.answers[item]) for item, label in SIDE_EFFECTS.items() if item in check.answers]
    drove = check.answers.get("drove")
    return CheckAnswers(
        check.kind, CHECK_LABELS.get(check.kind, check.kind), check.completed_at, check.skipped, ratings, drove
    )


def checks_for_sessions(session: Session, session_ids: list[int]) -> dict[int, list[CheckAnswers]]:
    """Each session's answered (or skipped) checks, morning-after first, in one statement."""
    found: dict[int, list[CheckAnswers]] = {}
    if not session_ids:
        return found
    rows = session.scalars(select(SideEffectCheck).where(SideEffectCheck.session_id.in_(session_ids))).all()
    for check in sorted(rows, key=lambda c: (c.session_id, list(CHECK_LABELS).index(c.kind))):
        found.setdefault(check.session_id, []).append(answers_of(check))
    return found


def raise_check_alerts(session: Session, check: SideEffectCheck, now: datetime) -> list:
    """The answers that need a person: driving on the session day, and any rating of SEVERE_RATING or more. One
    alert per check and reason (the dedup key), so a changed answer never raises a second one. The reason names
    what was answered; the e-mail that goes with it says only that something needs review (PRIV-R4)."""
    if check.skipped:
        return []
    answers = answers_of(check)
    raised = []
    if answers.drove:
        raised.append(
            raise_alert(
                session, now, patient_id=check.patient_id, kind="session_drove", severity="medium",
                reason=f"Drove on the day of the session ({answers.label[0].lower()}{answers.label[1:]})",
                dedup_key=f"session_check:{check.id}:drove",
            )
        )  # fmt: skip
    if answers.severe:
        items = "; ".join(f"{label} {value}/10" for _item, label, value in answers.severe)
        raised.append(
            raise_alert(
                session, now, patient_id=check.patient_id, kind="session_severe", severity="medium",
                reason=f"Severe after the session ({answers.label}): {items} "
                f"(clinic rule: a rating of {SEVERE_RATING} or more).",
                dedup_key=f"session_check:{check.id}:severe",
            )
        )  # fmt: skip
    return [alert for alert in raised if alert is not None]


@dataclass(frozen=True)
class SideEffectCounts:
    days_reported: int
    counts: list[tuple[str, int]]  # (label, days ticked), every item in the checklist's order
    first: date
    last: date


def side_effect_counts(session: Session, patient_id: int, today: date) -> SideEffectCounts:
    """How many of the last 14 check-in days (today included) ticked each side effect, of how many reported."""
    first = today - timedelta(days=SIDE_EFFECT_DAYS - 1)
    ticked = session.scalars(
        select(CheckIn.side_effects).where(CheckIn.patient_id == patient_id, CheckIn.local_date.between(first, today))
    ).all()
    counts = [(label, sum(1 for day in ticked if item in (day or []))) for item, label in SIDE_EFFECTS.items()]
    return SideEffectCounts(len(ticked), counts, first, today)
