"""Accounts: passwords, sign-in with lockout, bearer tokens, enrolment and invitations.

Plain domain functions: they take ``now`` and a session's worth of objects, and never import Flask.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from .models import ApiToken, CareTeamMember, Invitation, Patient, Role, User
from .outbox import queue_invitation

# argon2id with the library's defaults (RFC 9106 "low memory" profile: 64 MiB, 3 passes).
_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a wrong address costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str, *, name: str, email: str) -> str | None:
    """Why this password may not be used by the person with this name and e-mail, or None if it may.

    The one check every password goes through (invitation, reset, change, a staff account made by hand), after
    NIST SP 800-63B: a minimum length and no composition rules.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use a password of at least {MIN_PASSWORD_LENGTH} characters."
    return None


def new_token() -> tuple[str, str]:
    """A random URL-safe token and the SHA-256 hex digest under which it is stored."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    # The tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


class SignInError(Exception):
    """Sign-in refused. ``message`` is safe to show; it never says whether the address exists."""

    def __init__(self, message: str, locked: bool = False):
        super().__init__(message)
        self.message = message
        self.locked = locked


WRONG_CREDENTIALS = "The e-mail address or password is not right."


def authenticate(
    session: Session, email: str, password: str, now: datetime, *, lockout_threshold: int, lockout_minutes: int
) -> User:
    """Return the user whose credentials these are, or raise ``SignInError``.

    Failures are counted on the account in the database, so every web process shares them: after
    ``lockout_threshold`` consecutive failures the account is locked for ``lockout_minutes``, even to the
    right password. The counter is changed by a single UPDATE so that concurrent attempts all count.
    """
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise SignInError(_locked_message(user.locked_until, now), locked=True)
    if user is None or not password_matches(user.password_hash, password) or not user.is_active:
        if user is not None:
            _count_failure(session, user, now, lockout_threshold, lockout_minutes)
        raise SignInError(WRONG_CREDENTIALS)
    if user.failed_logins or user.locked_until:
        user.failed_logins = 0
        user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _count_failure(session: Session, user: User, now: datetime, threshold: int, minutes: int) -> None:
    session.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
    session.refresh(user, ["failed_logins"])
    if user.failed_logins >= threshold:
        user.failed_logins = 0
        user.locked_until = now + timedelta(minutes=minutes)
    session.commit()


def _locked_message(until: datetime, now: datetime) -> str:
    minutes = max(1, int((until - now).total_seconds() + 59) // 60)
    return (
        f"Too many attempts. Sign-in is paused for this account; try again in {minutes} minute{'s' * (minutes != 1)}."
    )


# --- Bearer tokens -----------------------------------------------------------------------------------------


def issue_api_token(session: Session, user: User, now: datetime, hours: int) -> tuple[str, datetime]:
    token, digest = new_token()
    expires_at = now + timedelta(hours=hours)
    session.add(ApiToken(user_id=user.id, token_hash=digest, created_at=now, expires_at=expires_at))
    return token, expires_at


def revoke_everything(session: Session, user: User, now: datetime) -> None:
    """End every web session and revoke every bearer token of ``user`` (a password change or reset, a disabled
    account, an MFA reset, a sign-out). The caller commits."""
    user.end_all_sessions()
    session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )


def user_for_api_token(session: Session, token: str, now: datetime) -> User | None:
    # One statement for what nearly every API call reads next: the user, their patient record and clinic.
    user = session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_digest(token), ApiToken.expires_at > now, ApiToken.revoked_at.is_(None))
        .options(joinedload(User.patient), joinedload(User.clinic))
    )
    if user is None or not user.is_active:
        return None
    return user


# --- Enrolment and invitations -----------------------------------------------------------------------------


class EnrolmentError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class PatientDetails:
    name: str
    email: str
    timezone: str
    substances: list[str]
    tracks_pain: bool = False
    sleep_detail: bool = True


def enrol_patient(
    session: Session, clinician: User, details: PatientDetails, now: datetime, invitation_days: int
) -> tuple[User, str]:
    """Create a patient on ``clinician``'s care team and an invitation; return the patient and the raw token."""
    email = normalise_email(details.email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise EnrolmentError("email", "An account with this e-mail address already exists.")
    user = User(
        clinic_id=clinician.clinic_id,
        email=email,
        name=details.name.strip(),
        role=Role.PATIENT,
        timezone=details.timezone,
        created_at=now,
    )
    session.add(user)
    session.flush()
    session.add(
        Patient(
            user_id=user.id,
            substances=list(details.substances),
            tracks_pain=details.tracks_pain,
            sleep_detail=details.sleep_detail,
            enrolled_at=now,
            enrolled_by_id=clinician.id,
        )
    )
    session.flush()  # the care-team row refers to the patient row
    session.add(CareTeamMember(patient_id=user.id, clinician_id=clinician.id, added_at=now))
    token = create_invitation(session, user, clinician, now, invitation_days)
    return user, token


def create_invitation(session: Session, user: User, created_by: User | None, now: datetime, days: int) -> str:
    """A new single-use invitation for ``user``; any earlier one still open stops working."""
    session.execute(
        update(Invitation)
        .where(Invitation.user_id == user.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    token, digest = new_token()
    invitation = Invitation(
        user_id=user.id,
        token_hash=digest,
        created_at=now,
        expires_at=now + timedelta(days=days),
        created_by_id=created_by.id if created_by else None,
    )
    session.add(invitation)
    session.flush()
    # The e-mail carrying the link goes through the outbox like every other message.
    queue_invitation(session, now, user, invitation.id, f"/invite/{token}")
    return token


def open_invitation(session: Session, token: str, now: datetime) -> Invitation | None:
    """The invitation this token opens, if it is unused, unrevoked and unexpired."""
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == token_digest(token)))
    if invitation is None or invitation.used_at or invitation.revoked_at or invitation.expires_at <= now:
        return None
    return invitation


def accept_invitation(session: Session, token: str, password: str, now: datetime) -> User | None:
    """Set the password and activate the account; None if the link is not valid (used, expired, unknown).

    The invitation is claimed with a conditional UPDATE, so two simultaneous submissions cannot both win.
    """
    invitation = open_invitation(session, token, now)
    if invitation is None:
        return None
    claimed = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if claimed != 1:
        return None
    user = invitation.user
    user.password_hash = hash_password(password)
    user.end_all_sessions()
    if user.activated_at is None:
        user.activated_at = now
    user.failed_logins = 0
    user.locked_until = None
    return user


def create_staff(
    session: Session,
    clinic_id: int,
    *,
    email: str,
    name: str,
    role: Role,
    timezone: str,
    now: datetime,
    password: str | None = None,
) -> User:
    """A clinician or admin. Without a password the account stays inactive until an invitation is accepted."""
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise EnrolmentError("email", "An account with this e-mail address already exists.")
    user = User(
        clinic_id=clinic_id,
        email=email,
        name=name.strip(),
        role=role,
        timezone=timezone,
        password_hash=hash_password(password) if password else None,
        created_at=now,
        activated_at=now if password else None,
    )
    session.add(user)
    session.flush()
    return user
