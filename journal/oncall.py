"""The clinic's on-call rota (SAFE-R3): who receives a high-priority alert first, and who backs them up.

A shift names an on-call clinician and, optionally, a backup, from ``starts_at`` to ``ends_at`` (UTC, the end
not included). Shifts of one clinic may overlap, as when a colleague takes over the middle of a weekend: the
shift that started last is in charge. Only active clinicians of the clinic count; a shift whose on-call
clinician has since been disabled covers nothing, so the shift under it (or today's team-wide e-mail) takes
over. No Flask here: the admin page (journal/views/oncall.py) and the alerts call these with ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from .models import OnCallShift, Role, User

# A shift longer than this is a typo (a year for a day), not a rota: two weeks covers any real rotation.
MAX_SHIFT = timedelta(days=14)


class ShiftError(Exception):
    """A shift the rota refuses, with the form field the message belongs to."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class OnCall:
    """Who the rota names at an instant: the clinician in charge and their backup (None when the shift has none
    or the backup's account is disabled)."""

    shift_id: int
    clinician: User
    backup: User | None


def _active_clinician(user: User | None, clinic_id: int) -> bool:
    return user is not None and user.role == Role.CLINICIAN and user.clinic_id == clinic_id and user.disabled_at is None


def on_call_at(session: Session, clinic_id: int, instant: datetime) -> OnCall | None:
    """The shift in charge at ``instant`` in the clinic (the latest-started of those covering it whose on-call
    clinician is still active), or None when no shift covers it."""
    clinician = aliased(User)
    shifts = session.scalars(
        select(OnCallShift)
        .join(clinician, clinician.id == OnCallShift.clinician_id)
        .where(
            OnCallShift.clinic_id == clinic_id,
            OnCallShift.starts_at <= instant,
            OnCallShift.ends_at > instant,
            clinician.disabled_at.is_(None),
            clinician.role == Role.CLINICIAN,
            clinician.clinic_id == clinic_id,
        )
        .order_by(OnCallShift.starts_at.desc(), OnCallShift.id.desc())
        .limit(1)
    ).all()
    if not shifts:
        return None
    shift = shifts[0]
    backup = shift.backup if _active_clinician(shift.backup, clinic_id) else None
    return OnCall(shift.id, shift.clinician, backup)


def eligible_clinicians(session: Session, clinic_id: int) -> list[User]:
    """The clinicians who may be on call or backup in the clinic: its active clinicians, by name."""
    return session.scalars(
        select(User)
        .where(User.clinic_id == clinic_id, User.role == Role.CLINICIAN, User.disabled_at.is_(None))
        .order_by(User.name, User.id)
    ).all()


def add_shift(
    session: Session,
    clinic_id: int,
    *,
    clinician_id: int | None,
    backup_id: int | None,
    starts_at: datetime,
    ends_at: datetime,
    created_by: User,
    now: datetime,
) -> OnCallShift:
    """Add a shift after checking it; raises ShiftError naming the field at fault. The caller commits."""
    clinician = session.get(User, clinician_id) if clinician_id is not None else None
    if not _active_clinician(clinician, clinic_id):
        raise ShiftError("clinician", "Choose an active clinician of this clinic.")
    if backup_id is not None:
        if backup_id == clinician_id:
            raise ShiftError("backup", "The backup must be someone other than the clinician on call.")
        if not _active_clinician(session.get(User, backup_id), clinic_id):
            raise ShiftError("backup", "Choose an active clinician of this clinic, or no backup.")
    if ends_at <= starts_at:
        raise ShiftError("ends_at", "The end must be after the start.")
    if ends_at - starts_at > MAX_SHIFT:
        raise ShiftError("ends_at", f"A shift can last at most {MAX_SHIFT.days} days. Add the rest as another shift.")
    if ends_at <= now:
        raise ShiftError("ends_at", "This shift would already be over. Give an end in the future.")
    shift = OnCallShift(
        clinic_id=clinic_id,
        clinician_id=clinician.id,
        backup_id=backup_id,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by_id=created_by.id,
        created_at=now,
    )
    session.add(shift)
    session.flush()
    return shift


def current_and_upcoming(session: Session, clinic_id: int, now: datetime) -> list[OnCallShift]:
    """The clinic's shifts that have not ended, in the order they start."""
    return session.scalars(
        select(OnCallShift)
        .where(OnCallShift.clinic_id == clinic_id, OnCallShift.ends_at > now)
        .order_by(OnCallShift.starts_at, OnCallShift.id)
    ).all()


def delete_future_shift(session: Session, clinic_id: int, shift_id: int, now: datetime) -> OnCallShift | None:
    """Delete a shift of the clinic that has not started; returns it, or None when there is no such shift (of
    another clinic, started, or gone). The caller commits."""
    shift = session.get(OnCallShift, shift_id)
    if shift is None or shift.clinic_id != clinic_id or shift.starts_at <= now:
        return None
    session.delete(shift)
    session.flush()
    return shift
