"""Accounts: passwords, sign-in with lockout, bearer tokens, enrolment and invitations.

Plain domain functions: they take ``now`` and a session's worth of objects, and never import Flask.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, delete, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload
from zxcvbn import zxcvbn

from .models import (
    ApiToken,
    CareTeamMember,
    Invitation,
    OutboxMessage,
    PasswordReset,
    Patient,
    Role,
    SignInFailure,
    User,
)
from .outbox import password_reset_rows, queue_invitation
from .people import DetailsError, birth_date_problem, contact_from, first_programme, local_today
from .wording import N_, Wording

# argon2id with the library's defaults (RFC 9106 "low memory" profile: 64 MiB, 3 passes).
_hasher = PasswordHasher()
# Verified against when the e-mail is unknown or has no password yet, so that such an address costs the same
# hashing work as a wrong password. Made with the hasher in use (tests swap in a cheap one): a hash made with
# other parameters would cost a different time and tell the two apart.
_dummy: tuple[PasswordHasher, str] | None = None

# NIST SP 800-63B: at least 8 characters; 10 here, with the strength estimate below doing the real work (see
# README). The maximum bounds the hashing and estimating work one request can ask for.
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
# zxcvbn's score: 3 means an estimated 10^8 guesses or more ("safely unguessable" for online attacks, which the
# sign-in pauses slow further); 0-2 are common passwords, words with a digit or two, keyboard walks, repeats.
MIN_PASSWORD_SCORE = 3

# What password_problem says, kind and naming what to do instead.
# Marked for translation: a patient sees them on the invitation, reset and change pages.
TOO_SHORT = Wording(
    N_("Use a password of at least %(count)d characters. A few unrelated words make a good one."),
    count=MIN_PASSWORD_LENGTH,
)
TOO_LONG = Wording(N_("Use a password of at most %(count)d characters."), count=MAX_PASSWORD_LENGTH)
TOO_COMMON = N_(
    "This password is too easy to guess. Choose a longer password, or one that is less common: "
    "a few unrelated words work well."
)
FROM_NAME_OR_EMAIL = N_(
    "This password is built from your name or e-mail address, which others may know. "
    "Choose one that has nothing to do with them."
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _dummy_hash() -> str:
    global _dummy
    if _dummy is None or _dummy[0] is not _hasher:
        _dummy = (_hasher, _hasher.hash(secrets.token_urlsafe(16)))
    return _dummy[1]


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one hashed; with no hash (unknown address, never activated) the same work is
    done against a dummy hash and the answer is False."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class PasswordRefused(ValueError):
    """The password may not be used; ``message`` (from ``password_problem``) says why and what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def password_length_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return TOO_SHORT
    if len(password) > MAX_PASSWORD_LENGTH:
        return TOO_LONG
    return None


def password_problem(password: str, *, name: str, email: str) -> str | None:
    """Why this password may not be used by the person with this name and e-mail, or None if it may.

    The one check every password goes through (invitation, reset, change, a staff account made by hand), after
    NIST SP 800-63B: a length from 10 to 128 characters, no composition rules (any character, spaces too), and
    no password that is common, breached or built from the person's name or e-mail address. The last two are
    judged by zxcvbn (Dropbox's estimator; its frequency lists hold the most common passwords of public
    breaches, English words and names), told the person's name and address as words an attacker knows.
    """
    problem = password_length_problem(password)
    if problem:
        return problem
    personal = _personal_words(name, email)
    estimate = zxcvbn(password, user_inputs=personal, max_length=MAX_PASSWORD_LENGTH)
    # The parts that come from the name or address: as zxcvbn matched them (also reversed or with l33t
    # substitutions), and wherever one of those words appears as it is.
    taken = {
        index
        for match in estimate["sequence"]
        if match.get("dictionary_name") == "user_inputs"
        for index in range(match["i"], match["j"] + 1)
    }
    lowered = password.lower()
    for word in personal:
        for found in re.finditer(re.escape(word), lowered):
            taken.update(range(found.start(), found.end()))
    if taken:
        # Built from the name or address: what is left once those parts are taken out must be strong by itself.
        rest = "".join(char for index, char in enumerate(password) if index not in taken)
        if not rest.strip() or zxcvbn(rest, max_length=MAX_PASSWORD_LENGTH)["score"] < MIN_PASSWORD_SCORE:
            return FROM_NAME_OR_EMAIL
    if estimate["score"] < MIN_PASSWORD_SCORE:
        return TOO_COMMON
    return None


def _personal_words(name: str, email: str) -> list[str]:
    """The name and address as an attacker would try them: whole, run together, and word by word (the domain's
    names too, but not its last label such as "com")."""
    email = normalise_email(email)
    local, _, domain = email.partition("@")
    words = {name.lower(), name.lower().replace(" ", ""), email, local}
    words |= set(re.split(r"[^\w]+|_", f"{name} {local} {domain.rpartition('.')[0]}".lower()))
    return sorted(word for word in words if len(word) >= 3)


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

    def __init__(self, *messages: str, locked: bool = False):
        super().__init__(" ".join(messages))
        self.message = " ".join(messages)
        self.messages = list(messages)  # each a marked sentence, for the sign-in page to translate one by one
        self.locked = locked


WRONG_CREDENTIALS = N_("The e-mail address or password is not right.")


# --- Failed sign-ins ---------------------------------------------------------------------------------------
#
# Failures are counted in the database (every web process shares them) per account and client address, so that
# guessing from one place is slowed while the owner, from anywhere else, still gets in. The account is a keyed
# digest of the address typed, known or not: an unknown address is counted, paused and answered exactly as a
# real one, and the table names no one. A second, much higher count per account over all addresses stops
# guessing spread over many addresses (NIST SP 800-63B: at most 100 consecutive failures); a password reset
# clears both.

ALL_CLIENTS = "*"  # the client_key of an account's count over every address (a digest is never "*")


@dataclass(frozen=True)
class SignInRules:
    key: bytes  # keys the digests of addresses (derived from the app's secret key)
    pause_after: int = 5  # failures from one address before the first pause
    max_pause_minutes: int = 15  # pauses double from one minute up to this
    account_ceiling: int = 100  # failures from all addresses together before every address is paused
    forget_after: timedelta = timedelta(hours=24)  # a count with no failure for this long starts again


_rules_source: Callable[[], SignInRules] | None = None


def use_sign_in_rules(source: Callable[[], SignInRules]) -> None:
    """Where the rules come from when a caller passes none: the running app's settings (security.init_app)."""
    global _rules_source
    _rules_source = source


def _rules(rules: SignInRules | None) -> SignInRules:
    if rules is not None:
        return rules
    if _rules_source is None:
        raise RuntimeError("No sign-in rules: pass rules= or call use_sign_in_rules() first.")
    return _rules_source()


def client_network(address: str | None) -> str:
    """The client as counted: an IPv4 address, or the /64 network of an IPv6 one (one subscriber holds a whole
    /64, so counting single IPv6 addresses would give a guesser billions of fresh starts)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _digest(rules: SignInRules, kind: str, value: str) -> str:
    return hmac.new(rules.key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _keys(rules: SignInRules, email: str, client: str | None) -> tuple[str, str]:
    return _digest(rules, "account", normalise_email(email)), _digest(rules, "client", client_network(client))


def paused_message(until: datetime, now: datetime) -> str:
    """What a person is told while sign-in is paused: the whole minutes left, marked for translation (a sentence
    for one minute and one for several: Spanish, like English, has those two forms)."""
    minutes = max(1, int((until - now).total_seconds() + 59) // 60)
    if minutes == 1:
        return N_("Too many attempts. Wait 1 minute and try again, or reset your password.")
    return Wording(
        N_("Too many attempts. Wait %(minutes)d minutes and try again, or reset your password."), minutes=minutes
    )


def sign_in_paused_until(
    session: Session, email: str, client: str | None, now: datetime, rules: SignInRules | None = None
) -> datetime | None:
    """Until when sign-in to this address from this client is paused, or None."""
    account, client_key = _keys(_rules(rules), email, client)
    return session.scalar(
        select(func.max(SignInFailure.blocked_until)).where(
            SignInFailure.account_key == account,
            SignInFailure.client_key.in_([client_key, ALL_CLIENTS]),
            SignInFailure.blocked_until > now,
        )
    )


def record_sign_in_failure(
    session: Session, email: str, client: str | None, now: datetime, rules: SignInRules | None = None
) -> str | None:
    """Count a failed sign-in (a wrong password, or a wrong second-factor code) for this address from this
    client, and commit, so the count outlives the refused request. Returns the pause message if this failure
    started a pause, else None.

    Each count is changed by one INSERT ... ON CONFLICT DO UPDATE, so simultaneous failures all count."""
    rules = _rules(rules)
    account, client_key = _keys(rules, email, client)
    until = None
    for key, threshold in ((client_key, rules.pause_after), (ALL_CLIENTS, rules.account_ceiling)):
        failures = _count(session, account, key, now, rules)
        if failures >= threshold:
            # 1, 2, 4 ... minutes, up to the maximum (the exponent is bounded so the number stays small)
            minutes = min(rules.max_pause_minutes, 2 ** min(failures - threshold, 20))
            pause_end = now + timedelta(minutes=minutes)
            session.execute(
                update(SignInFailure)
                .where(SignInFailure.account_key == account, SignInFailure.client_key == key)
                .values(blocked_until=pause_end)
            )
            until = max(until or pause_end, pause_end)
    session.commit()
    return paused_message(until, now) if until else None


def _count(session: Session, account: str, client_key: str, now: datetime, rules: SignInRules) -> int:
    table = SignInFailure.__table__
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)
    forgotten = table.c.last_failed_at < now - rules.forget_after
    statement = (
        insert.values(account_key=account, client_key=client_key, failures=1, last_failed_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.account_key, table.c.client_key],
            set_={
                "failures": case((forgotten, 1), else_=table.c.failures + 1),
                "last_failed_at": now,
            },
        )
        .returning(table.c.failures)
    )
    return session.execute(statement).scalar_one()


def clear_sign_in_failures(
    session: Session, user_or_email: User | str, client: str | None = None, rules: SignInRules | None = None
) -> None:
    """Forget the failed sign-ins of this account: from every address (a completed password reset), or, with
    ``client``, from that address and the count over all addresses (a complete sign-in). The caller commits."""
    email = user_or_email.email if isinstance(user_or_email, User) else user_or_email
    account, client_key = _keys(_rules(rules), email, client)
    condition = SignInFailure.account_key == account
    if client is not None:
        condition &= SignInFailure.client_key.in_([client_key, ALL_CLIENTS])
    session.execute(delete(SignInFailure).where(condition))


def forget_old_sign_in_failures(session: Session, now: datetime, rules: SignInRules | None = None) -> int:
    """Delete counts with no failure for ``forget_after`` and no pause running (the scheduler's housekeeping)."""
    rules = _rules(rules)
    return session.execute(
        delete(SignInFailure).where(
            SignInFailure.last_failed_at < now - rules.forget_after,
            (SignInFailure.blocked_until.is_(None)) | (SignInFailure.blocked_until <= now),
        )
    ).rowcount


def authenticate(
    session: Session, email: str, password: str, now: datetime, *, client: str | None, rules: SignInRules | None = None
) -> User:
    """Return the user whose credentials these are, or raise ``SignInError``.

    An unknown address, an account without a password yet, a disabled account and a wrong password are refused
    alike, after the same password-hashing work, and counted alike (``record_sign_in_failure``). While sign-in
    to the address from this client is paused, every attempt, even with the right password, gets the same
    pause message without a password being checked.

    A success does not clear the failure counts: the caller does, once the whole sign-in (a second factor too)
    has succeeded, with ``clear_sign_in_failures(session, email, client)``.
    """
    paused = sign_in_paused_until(session, email, client, now, rules)
    if paused is not None:
        raise SignInError(paused_message(paused, now), locked=True)
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    matches = password_matches(user.password_hash if user is not None else None, password)
    if user is None or not matches or not user.is_active:
        pause = record_sign_in_failure(session, email, client, now, rules)
        if pause:
            raise SignInError(WRONG_CREDENTIALS, pause, locked=True)
        raise SignInError(WRONG_CREDENTIALS)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


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


# A staff token's last use is written at most this often: enough to measure idle time, few writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def user_for_api_token(
    session: Session, token: str, now: datetime, *, staff_idle_minutes: int | None = None
) -> User | None:
    """The active user this bearer token belongs to, if it is unexpired and unrevoked; a staff member's token
    also stops working after ``staff_idle_minutes`` without use, as their web session does."""
    # One statement for what nearly every API call reads next: the user, their patient record and clinic.
    found = session.execute(
        select(User, ApiToken.id, ApiToken.created_at, ApiToken.last_used_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_digest(token), ApiToken.expires_at > now, ApiToken.revoked_at.is_(None))
        .options(joinedload(User.patient), joinedload(User.clinic))
    ).first()
    if found is None or not found[0].is_active:
        return None
    user, token_id, created_at, last_used_at = found
    if user.is_staff and staff_idle_minutes is not None:
        last_used = last_used_at or created_at
        if now - last_used > timedelta(minutes=staff_idle_minutes):
            return None
        if now - last_used >= LAST_USED_RESOLUTION:
            session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
            session.commit()  # now, not with the request's own changes: a read-only request must count as use
    return user


def revoke_api_token(session: Session, token: str, now: datetime) -> bool:
    """Revoke one bearer token (the one a client signs out with); False if it was not a live token."""
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    return revoked == 1


# --- Setting a password: reset by e-mail, change ---------------------------------------------------------------


class PasswordRejected(PasswordRefused):
    """A password change refused; ``field`` names the input at fault (the current password or the new one)."""

    def __init__(self, field: str, *messages: str):
        super().__init__(" ".join(messages))
        self.field = field
        self.messages = list(messages)  # each a marked sentence, for a page to translate one by one


def request_password_reset(session: Session, email: str, now: datetime, *, minutes: int) -> tuple[User | None, str]:
    """Queue an e-mail with a single-use link to set a new password, valid ``minutes``, if ``email`` names an
    account that may have one (any account not disabled, activated or still invited). Returns that account (or
    None) and the link's token (which opens nothing when there is no account); callers other than tests need
    neither, since the link goes only by e-mail.

    Whatever the address, the same statements run with the same kind of work (a token made, hashed and sealed,
    an UPDATE and two INSERT ... SELECTs that write rows only for a real account), so neither the answer nor
    its time tells anyone whether the address has an account. A new request revokes the earlier open links.
    """
    user = session.scalar(select(User).where(User.email == normalise_email(email), User.disabled_at.is_(None)))
    user_id = user.id if user is not None else 0  # 0 is no account's id: the statements below then change nothing
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None), PasswordReset.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    token, digest = new_token()
    expires_at = now + timedelta(minutes=minutes)
    reset = PasswordReset.__table__.c
    session.execute(
        insert(PasswordReset).from_select(
            ["user_id", "token_hash", "created_at", "expires_at"],
            select(
                User.id,
                literal(digest, reset.token_hash.type),
                literal(now, reset.created_at.type),
                literal(expires_at, reset.expires_at.type),
            ).where(User.id == user_id),
        )
    )
    message = password_reset_rows(now, f"/password-reset/{token}", expires_at, secrets.token_hex(8))
    outbox = OutboxMessage.__table__.c
    session.execute(
        insert(OutboxMessage).from_select(
            ["recipient_id", "address", *message],
            select(User.id, User.email, *(literal(value, outbox[name].type) for name, value in message.items())).where(
                User.id == user_id
            ),
        )
    )
    return user, token


def open_password_reset(session: Session, token: str, now: datetime) -> PasswordReset | None:
    """The reset this token opens, if it is unused, unrevoked, unexpired and its account not disabled."""
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_digest(token)))
    if reset is None or reset.used_at or reset.revoked_at or reset.expires_at <= now or reset.user.disabled_at:
        return None
    return reset


def complete_password_reset(session: Session, token: str, password: str, now: datetime) -> User | None:
    """Set a new password through a reset link; None if the link is not valid (unknown, used, revoked, expired).

    Raises ``PasswordRefused`` (and changes nothing) for a password ``password_problem`` refuses. An account
    that was never activated is activated: the link proved the owner reads the address. Every other link to the
    account stops working, failed sign-ins are forgotten, and every session and token is revoked.
    """
    reset = open_password_reset(session, token, now)
    if reset is None:
        return None
    user = reset.user
    if problem := password_problem(password, name=user.name, email=user.email):
        raise PasswordRefused(problem)
    claimed = session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None), PasswordReset.revoked_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if claimed != 1:  # a simultaneous submission of the same link won
        return None
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None), PasswordReset.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.execute(
        update(Invitation)
        .where(Invitation.user_id == user.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if user.activated_at is None:
        user.activated_at = now
    _set_password(session, user, password, now)
    return user


WRONG_CURRENT_PASSWORD = N_("This is not your current password.")  # nosec B105 # a message


def change_password(
    session: Session, user: User, current_password: str, new_password: str, now: datetime, *, client: str | None
) -> None:
    """The signed-in ``user`` changes their password; every session and token of theirs is revoked (the caller
    starts a new session for the device that asked). Raises ``PasswordRejected`` and changes nothing else if the
    current password is wrong or the new one is refused.

    A wrong current password counts as a failed sign-in from ``client`` (and is refused during a pause), so a
    borrowed session cannot be used to guess the password faster than the sign-in page allows.
    """
    paused = sign_in_paused_until(session, user.email, client, now)
    if paused is not None:
        raise PasswordRejected("current_password", paused_message(paused, now))
    if not password_matches(user.password_hash, current_password):
        pause = record_sign_in_failure(session, user.email, client, now)  # commits the count
        raise PasswordRejected("current_password", WRONG_CURRENT_PASSWORD, *([pause] if pause else []))
    if problem := password_problem(new_password, name=user.name, email=user.email):
        raise PasswordRejected("new_password", problem)
    _set_password(session, user, new_password, now)


def _set_password(session: Session, user: User, password: str, now: datetime) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    # The owner has proved who they are: whatever pauses guessing caused are over.
    user.failed_logins = 0
    user.locked_until = None
    clear_sign_in_failures(session, user)
    revoke_everything(session, user, now)


# --- Enrolment and invitations -----------------------------------------------------------------------------


# Said of any address already in use, whoever uses it: a patient of this clinician, of another clinic or care
# team, or a member of staff. Nothing in the answer (text, status, time) tells these apart (see README).
ADDRESS_UNAVAILABLE = (
    "This e-mail address cannot be used for a new account. Ask the person for another address they use, "
    "or ask an admin of your clinic for help."
)


class AccountActive(Exception):
    """An invitation was asked for an account that is already active. Invitations only activate: the owner of
    an active account gets a password-reset e-mail instead, and nobody else ever sees a link into it."""


class EnrolmentError(Exception):
    """Enrolment refused: ``field`` and ``message`` name the first problem, ``errors`` maps every field found
    to its message (the phone numbers are all checked at once)."""

    def __init__(self, field: str, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.errors = errors or {field: message}


@dataclass
class PatientDetails:
    name: str
    email: str
    timezone: str
    substances: list[str]
    tracks_pain: bool = False
    sleep_detail: bool = True
    phone: str | None = None  # as typed; stored in E.164 (people.parse_phone)
    emergency_contact: dict | None = None  # {name, phone}: both or neither
    sex: str = "unknown"
    birth_date: date | None = None  # staff only (the esketamine REMS form asks for it)
    language: str = "en"  # of the patient's pages and messages (journal/i18n.py LANGUAGES)


def enrol_patient(
    session: Session, clinician: User, details: PatientDetails, now: datetime, invitation_days: int
) -> tuple[User, str]:
    """Create a patient on ``clinician``'s care team and an invitation; return the patient and the raw token.

    Raises ``EnrolmentError`` naming the field for a phone number or emergency contact that cannot be saved
    (``people.parse_phone``) or an e-mail address in use; nothing is written then. The programme's
    history starts with the programme enrolled with."""
    try:
        given = {"phone": details.phone, "emergency_contact": details.emergency_contact}
        contact = contact_from(given, details.timezone)
    except DetailsError as error:
        raise EnrolmentError(error.field, error.message, error.errors) from None
    born_problem = birth_date_problem(details.birth_date, local_today(details.timezone, now))
    if born_problem:
        raise EnrolmentError("birth_date", born_problem)
    email = normalise_email(details.email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise EnrolmentError("email", ADDRESS_UNAVAILABLE)
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
    patient = Patient(
        user_id=user.id,
        substances=list(details.substances),
        tracks_pain=details.tracks_pain,
        sleep_detail=details.sleep_detail,
        enrolled_at=now,
        enrolled_by_id=clinician.id,
        sex=details.sex,
        birth_date=details.birth_date,
        language=details.language,
        **contact,
    )
    session.add(patient)
    session.flush()  # the care-team and history rows refer to the patient row
    first_programme(session, patient, clinician, now)
    session.add(CareTeamMember(patient_id=user.id, clinician_id=clinician.id, added_at=now))
    token = create_invitation(session, user, clinician, now, invitation_days)
    return user, token


def create_invitation(session: Session, user: User, created_by: User | None, now: datetime, days: int) -> str:
    """A new single-use invitation for ``user``, who was never activated; any earlier one still open stops
    working. Raises ``AccountActive`` for an activated account."""
    if user.activated_at is not None:
        raise AccountActive(f"user {user.id} is already active")
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
    queue_invitation(session, now, user, invitation.id, f"/invite/{token}", invitation.expires_at)
    return token


def open_invitation(session: Session, token: str, now: datetime) -> Invitation | None:
    """The invitation this token opens, if it is unused, unrevoked, unexpired and its account never activated
    (an invitation only activates: it never sets the password of an account in use)."""
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == token_digest(token)))
    if invitation is None or invitation.used_at or invitation.revoked_at or invitation.expires_at <= now:
        return None
    if invitation.user.activated_at is not None:
        return None
    return invitation


def accept_invitation(session: Session, token: str, password: str, now: datetime) -> User | None:
    """Set the password and activate the account; None if the link is not valid (used, expired, unknown, or
    its account already active: an invitation never touches an activated account). Raises ``PasswordRefused``
    for a password ``password_problem`` refuses.

    The invitation is claimed with a conditional UPDATE, so two simultaneous submissions cannot both win.
    """
    invitation = open_invitation(session, token, now)
    if invitation is None:
        return None
    problem = password_problem(password, name=invitation.user.name, email=invitation.user.email)
    if problem:
        raise PasswordRefused(problem)
    claimed = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if claimed != 1:
        return None
    user = invitation.user
    user.activated_at = now
    _set_password(session, user, password, now)
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
        raise EnrolmentError("email", ADDRESS_UNAVAILABLE)
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
