"""Multi-factor sign-in for staff: time-based codes (TOTP, RFC 6238) and single-use recovery codes.

Domain functions: they take the database session and ``now``, and the caller commits (except where a refused
code must be counted whatever the caller does next). Flask is touched only for the app's key, through
``sealing`` and ``_recovery_key``.

- The shared secret is kept sealed (encrypted and authenticated, ``journal.sealing``) in ``User.mfa_secret``;
  it is set when enrolment starts and in use once a first code confirms it (``User.mfa_enabled_at``).
- A code is accepted one time step (30 s) either side of now, and never twice: the last accepted step of each
  account is kept in the shared ``rate_limit_counter`` table (key ``mfa-step:<user id>``), and a code must be
  of a later step (RFC 6238 section 5.2). Kept in the database rather than in a session, so that a code seen
  over someone's shoulder cannot be used from another browser or through the API either.
- Wrong codes count as failed sign-ins (``accounts.record_sign_in_failure``, per account and address), and
  also per account alone in the same table as above (``mfa-failures:<user id>``), which pauses the second step
  after ``MAX_WRONG_CODES`` from anywhere: a 6-digit code is a small space to guess from many addresses. Only a
  holder of the password gets that far, so a stranger cannot use this to lock the owner out.
- Recovery codes are kept only as HMAC-SHA256 digests under a key derived from SECRET_KEY (not argon2): each
  holds about 50 random bits, so a slow hash adds nothing against guessing, the key means a copy of the
  database alone cannot even test a guess, and one keyed digest finds the code with one indexed query instead
  of ten argon2 verifications per attempt (which would also make the second step a cheap way to load the CPU).
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from datetime import datetime
from functools import lru_cache
from hashlib import sha256

import pyotp
import segno
from flask import current_app
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .models import MfaRecoveryCode, RateLimitCounter, User
from .sealing import InvalidToken, derived_key, seal, unseal

log = logging.getLogger(__name__)

ISSUER = "Journal"  # the name an authenticator app shows beside the code: neutral, as every outside text is
STEP_SECONDS = 30
VALID_WINDOW = 1  # one step either side: a phone's clock a little off, or a code typed as it changed
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read from paper without doubt
RECOVERY_CODE_LENGTH = 10  # about 50 bits
# Wrong codes of one account, from anywhere, before its second step pauses (see verify_second_factor): the
# per-address pauses of accounts.py allow more over many addresses, and a 6-digit code is a small space.
MAX_WRONG_CODES = 5
PAUSE_MINUTES = 15
_SEAL_PURPOSE = "mfa-secret"
_TOTP_CODE = re.compile(r"[0-9]{6}")


ALREADY_ENABLED = "Two-step sign-in is already on. If the app or phone is lost, an admin can reset it."


class MfaError(Exception):
    """An MFA step refused. ``reason`` is machine-readable, ``message`` safe to show."""

    def __init__(self, reason: str, message: str, locked: bool = False):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.locked = locked


# --- Who needs it ---------------------------------------------------------------------------------------------


def is_enabled(user: User) -> bool:
    return user.mfa_enabled_at is not None and user.mfa_secret is not None


def required_for(user: User, deployment_default: bool) -> bool:
    """Whether ``user`` must sign in with a second factor: clinicians and admins of a clinic that requires it
    (``Clinic.require_staff_mfa``; None means the deployment's default). Patients never must."""
    if not user.is_staff:
        return False
    setting = user.clinic.require_staff_mfa
    return deployment_default if setting is None else setting


def must_enrol(user: User, deployment_default: bool) -> bool:
    return required_for(user, deployment_default) and not is_enabled(user)


# --- Enrolment --------------------------------------------------------------------------------------------


def new_secret() -> str:
    """A new shared secret: 160 random bits in base32, as RFC 4226 recommends and authenticator apps expect."""
    return pyotp.random_base32(32)


def start_enrolment(session: Session, user: User, *, restart: bool = False) -> str:
    """The secret of ``user``'s enrolment in progress through the API, kept sealed in ``User.mfa_secret`` until
    a code confirms it; made now if there is none (or ``restart``). The caller commits.

    Without ``restart`` an enrolment already started keeps its secret, so a retried request gets the QR code
    that may have been scanned. (The web page keeps its enrolment in progress in the sealed session instead,
    so that merely opening the page writes nothing.)
    """
    if is_enabled(user):
        raise MfaError("mfa_already_enabled", ALREADY_ENABLED)
    if not restart and (current := pending_secret(user)) is not None:
        return current
    secret = new_secret()
    user.mfa_secret = seal_secret(secret)
    return secret


def seal_secret(secret: str) -> str:
    return seal(secret, _SEAL_PURPOSE)


def unseal_secret(sealed: str) -> str | None:
    try:
        return unseal(sealed, _SEAL_PURPOSE)
    except InvalidToken:
        return None


def pending_secret(user: User) -> str | None:
    """The secret of an enrolment started but not confirmed, or None."""
    if user.mfa_enabled_at is not None or user.mfa_secret is None:
        return None
    return _secret(user)


def _secret(user: User) -> str | None:
    secret = unseal_secret(user.mfa_secret or "")
    if secret is None:
        # Sealed under another SECRET_KEY (rotated since) or altered: unusable; an admin's reset starts afresh.
        log.warning("the MFA secret of user %s cannot be unsealed", user.id)
    return secret


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an inline SVG element, drawn here (no other host ever sees the secret)."""
    svg = segno.make(uri, error="m", micro=False).svg_inline(
        scale=5, border=4, dark="#000", light="#fff", title="QR code to scan with an authenticator app"
    )
    return svg.replace("<svg ", '<svg role="img" aria-label="QR code to scan with an authenticator app" ', 1)


def grouped(secret: str) -> str:
    """The secret in groups of four, as it is easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def confirm_enrolment(session: Session, user: User, secret: str, otp: str, now: datetime) -> list[str]:
    """Turn MFA on for ``user`` with ``secret`` once a first right code shows their app holds it; return the
    ten recovery codes, to be shown once. The caller commits (with an audit event)."""
    if is_enabled(user):
        raise MfaError("mfa_already_enabled", ALREADY_ENABLED)
    if not _totp_accepted(session, user, secret, otp, now):
        raise MfaError("otp_invalid", "That code is not right. Enter the 6 digits the app shows now.")
    # Conditional, so that two confirmations at once cannot both turn it on and make two sets of recovery codes.
    won = session.execute(
        update(User)
        .where(User.id == user.id, User.mfa_enabled_at.is_(None))
        .values(mfa_secret=seal_secret(secret), mfa_enabled_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        raise MfaError("mfa_already_enabled", ALREADY_ENABLED)
    session.refresh(user, ["mfa_secret", "mfa_enabled_at"])
    return _new_recovery_codes(session, user, now)


def reset(session: Session, user: User, now: datetime) -> None:
    """Turn MFA off for ``user`` (an admin's reset, e.g. a lost phone): the secret and recovery codes go, and
    every session and token of the account ends, so the next sign-in enrols afresh. The caller commits."""
    from .accounts import revoke_everything

    user.mfa_secret = None
    user.mfa_enabled_at = None
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    session.execute(delete(RateLimitCounter).where(RateLimitCounter.key == _failures_key(user)))
    revoke_everything(session, user, now)


# --- The second step of sign-in ---------------------------------------------------------------------------


def verify_second_factor(session: Session, user: User, code: str, now: datetime, *, client: str | None) -> str:
    """Check a code from the authenticator app or a recovery code; return ``"totp"`` or ``"recovery"``.

    A right code is used up (a TOTP step cannot come again, a recovery code is spent); the caller commits.
    A wrong one raises ``MfaError`` once it has been counted and committed, and nothing else of the attempt is
    kept: it counts as a failed sign-in for this address and client (``accounts.record_sign_in_failure``), and
    towards this account's own count, which after ``MAX_WRONG_CODES`` refuses every code, even a right one,
    until ``PAUSE_MINUTES`` after the last wrong one.
    """
    from .accounts import record_sign_in_failure

    if paused := _second_step_paused_for(session, user, now):
        raise MfaError("locked", _paused_message(paused), locked=True)
    kind = _accepted_kind(session, user, code, now)
    if kind is None:
        email = user.email
        session.rollback()
        _count_wrong_code(session, user, now)
        session.commit()
        pause = record_sign_in_failure(session, email, client, now)
        message = "That code is not right. Enter the 6 digits the app shows now, or a recovery code."
        raise MfaError("otp_invalid", f"{message} {pause}" if pause else message, locked=bool(pause))
    session.execute(delete(RateLimitCounter).where(RateLimitCounter.key == _failures_key(user)))
    return kind


def _paused_message(minutes: int) -> str:
    return (
        "Too many wrong codes. Two-step sign-in is paused for this account; "
        f"try again in {minutes} minute{'s' * (minutes != 1)}."
    )


def _accepted_kind(session: Session, user: User, code: str, now: datetime) -> str | None:
    normalised = _normalise(code)
    if _TOTP_CODE.fullmatch(normalised):
        secret = _secret(user)
        return "totp" if secret is not None and _totp_accepted(session, user, secret, normalised, now) else None
    if len(normalised) == RECOVERY_CODE_LENGTH and _use_recovery_code(session, user, normalised, now):
        return "recovery"
    return None


def _normalise(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


def _totp_accepted(session: Session, user: User, secret: str, otp: str, now: datetime) -> bool:
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    otp = _normalise(otp)
    if not _TOTP_CODE.fullmatch(otp):
        return False
    current = totp.timecode(now)
    for step in range(current + VALID_WINDOW, current - VALID_WINDOW - 1, -1):
        if hmac.compare_digest(totp.generate_otp(step), otp):
            return _claim_step(session, user, step)
    return False


def _claim_step(session: Session, user: User, step: int) -> bool:
    """Record ``step`` as the last one used by ``user``, if it is later than the last; False if it is not (the
    code, or an earlier one, was used already). One statement, so two requests with one code cannot both win."""
    # Past this instant no code of this step or an earlier one is accepted, so the row may then be cleaned up.
    expires_at = float((step + VALID_WINDOW + 1) * STEP_SECONDS)
    table = RateLimitCounter.__table__
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).values(key=f"mfa-step:{user.id}", count=step, expires_at=expires_at)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"count": statement.excluded["count"], "expires_at": statement.excluded.expires_at},
        where=table.c.count < statement.excluded["count"],
    )
    # RETURNING rather than rowcount, which psycopg does not report for this statement: a row means it won.
    return session.execute(statement.returning(table.c.key)).first() is not None


def _failures_key(user: User) -> str:
    return f"mfa-failures:{user.id}"


def _second_step_paused_for(session: Session, user: User, now: datetime) -> int:
    """Whole minutes until the second step takes codes again (0 when it does)."""
    row = session.execute(
        select(RateLimitCounter.count, RateLimitCounter.expires_at).where(
            RateLimitCounter.key == _failures_key(user), RateLimitCounter.expires_at > now.timestamp()
        )
    ).first()
    if row is None or row.count < MAX_WRONG_CODES:
        return 0
    return max(1, int(row.expires_at - now.timestamp() + 59) // 60)


def _count_wrong_code(session: Session, user: User, now: datetime) -> None:
    """One more wrong code, in one statement (simultaneous ones all count); the count lasts ``PAUSE_MINUTES``
    after the last wrong code, then starts again from one."""
    table = RateLimitCounter.__table__
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).values(key=_failures_key(user), count=1, expires_at=now.timestamp() + PAUSE_MINUTES * 60)
    still_counting = table.c.expires_at > now.timestamp()
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "count": case((still_counting, table.c.count + 1), else_=1),
            "expires_at": statement.excluded.expires_at,
        },
    )
    session.execute(statement)


# --- Recovery codes ---------------------------------------------------------------------------------------


def _new_recovery_codes(session: Session, user: User, now: datetime) -> list[str]:
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH)) for _ in range(10)]
    session.add_all(
        MfaRecoveryCode(user_id=user.id, code_hash=_recovery_digest(code), created_at=now) for code in codes
    )
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def _use_recovery_code(session: Session, user: User, normalised: str, now: datetime) -> bool:
    # Conditional, so that two sign-ins with one code at the same moment cannot both use it.
    spent = session.execute(
        update(MfaRecoveryCode)
        .where(
            MfaRecoveryCode.user_id == user.id,
            MfaRecoveryCode.code_hash == _recovery_digest(normalised),
            MfaRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return spent == 1


def recovery_codes_left(session: Session, user: User) -> int:
    return session.scalar(
        select(func.count())
        .select_from(MfaRecoveryCode)
        .where(MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None))
    )


def _recovery_digest(normalised: str) -> str:
    return hmac.new(_recovery_key(current_app.config["SECRET_KEY"]), normalised.encode(), sha256).hexdigest()


@lru_cache(maxsize=4)
def _recovery_key(secret_key: str) -> bytes:
    return derived_key(secret_key, "mfa-recovery-codes")
