"""The persistent records. Instants are UTC (``UTCDateTime``); a patient's ``User.id`` is their patient id."""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import UTCDateTime, db, utcnow
from .wording import N_


class Role(enum.StrEnum):
    PATIENT = "patient"
    CLINICIAN = "clinician"
    ADMIN = "admin"


# Substances a programme can track (SPEC 4.2, CRV-R1). Stored as these codes; the names never leave the app.
SUBSTANCES: dict[str, str] = {
    "alcohol": N_("Alcohol"),
    "opioids": N_("Opioids"),
    "stimulants": N_("Stimulants"),
    "cannabis": N_("Cannabis"),
    "nicotine": N_("Nicotine"),
    "benzodiazepines": N_("Benzodiazepines"),
    "ketamine": N_("Ketamine (outside sessions)"),
    "other": N_("Other"),
}


def _setting(column_type, default, **kwargs):
    """A clinic setting: a column with a default for new rows and for rows that existed before it."""
    server_default = ("1" if default else "0") if isinstance(default, bool) else str(default)
    return mapped_column(column_type, default=default, server_default=server_default, **kwargs)


class Clinic(db.Model):
    """A clinic, with the settings its admins choose: crisis numbers (SAFE-R1/R2), questionnaire cadence
    (PHQ-R13), alert escalation (SAFE-R3) and the thresholds of the daily-data alert rules, which are the
    clinic's own product decisions, not published cut-offs (CRV-R3, KET-R2, SPEC 12.8)."""

    __tablename__ = "clinic"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Crisis screen. US defaults: the 988 Suicide & Crisis Lifeline (call and text) and 911.
    crisis_call_number: Mapped[str] = _setting(String(32), "988")
    crisis_text_number: Mapped[str] = _setting(String(32), "988")
    emergency_number: Mapped[str] = _setting(String(32), "911")
    clinic_phone: Mapped[str] = _setting(String(32), "")
    clinic_hours: Mapped[str] = _setting(String(200), "Monday to Friday, 9 am to 5 pm")
    review_promise: Mapped[str] = _setting(
        String(300), "Your care team reads questionnaire answers on weekdays, usually the same working day."
    )
    # The same words for Spanish-speaking patients, written by the clinic (never machine-translated). Empty: not
    # given, and such a patient reads the English words, marked as English (journal/i18n.py clinic_words).
    clinic_hours_es: Mapped[str] = _setting(String(200), "")
    review_promise_es: Mapped[str] = _setting(String(300), "")
    # Cadence (PHQ-R13): every 14 days; weekly during an induction series if the clinic chooses.
    assessment_interval_days: Mapped[int] = _setting(Integer, 14)
    weekly_during_induction: Mapped[bool] = _setting(Boolean, False)
    # Escalation (SAFE-R3): an unacknowledged high-priority alert goes to the rest of the team and admins.
    escalation_minutes: Mapped[int] = _setting(Integer, 30)
    # Daily-data alert rules.
    craving_threshold: Mapped[int] = _setting(Integer, 7)  # CRV-R3: strongest craving at or above this ...
    craving_days: Mapped[int] = _setting(Integer, 3)  # ... on this many consecutive days
    abstinent_run_days: Mapped[int] = _setting(Integer, 7)  # use reported after at least this many abstinent days
    booster_review_points: Mapped[int] = _setting(Integer, 5)  # KET-R2: PHQ-9 this far above the nadir
    urinary_alert_severity: Mapped[str] = _setting(String(8), "medium")  # KET-R4: non-urgent unless set otherwise
    # What the check-in's note field promises (issue: "the note field tells the truth"): who reads it and when.
    note_review_promise: Mapped[str] = _setting(
        String(300), "Your care team reads notes at your next review, usually within 2 working days."
    )
    note_review_promise_es: Mapped[str] = _setting(String(300), "")  # in Spanish, as above
    # KET-R3: a post-session check stays open this many hours after it opens (or until the next one opens).
    check_window_hours: Mapped[int] = _setting(Integer, 48)
    # Multi-factor sign-in for clinicians and admins. None: the deployment's default (on in production).
    require_staff_mfa: Mapped[bool | None] = mapped_column(Boolean)
    # SAFE-R4: a clinic that cannot staff the item-9 pathway asks the PHQ-8 ("phq8") instead of the PHQ-9.
    depression_instrument: Mapped[str] = _setting(String(8), "phq9")
    # PCL-R6: the PCL-5 total at or above which the score is "at or above the screening cut-point" (31-33).
    pcl5_cut_point: Mapped[int] = _setting(Integer, 33)
    # AUDC-R2: what a standard drink is, shown with the AUDIT-C (the US definition by default).
    standard_drink: Mapped[str] = _setting(
        String(200), "One standard drink contains 14 grams of pure alcohol (in the US)."
    )
    # EMA-R2: one follow-up reminder this many minutes after the first (30-180); None sends none.
    follow_up_minutes: Mapped[int | None] = mapped_column(Integer, default=90, server_default="90")


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    timezone: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of the session's user id: changing it (sign-out, new password) ends every session of this user,
    # even copies of an old cookie.
    session_salt: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(8))
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # TOTP (RFC 6238): the shared secret, encrypted with the app's key; set while enrolling, in use once confirmed.
    mfa_secret: Mapped[str | None] = mapped_column(Text)
    mfa_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    clinic: Mapped[Clinic] = relationship()
    patient: Mapped[Patient | None] = relationship(back_populates="user", foreign_keys="Patient.user_id")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.activated_at is not None and self.disabled_at is None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_salt}"

    def end_all_sessions(self) -> None:
        self.session_salt = secrets.token_hex(8)

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.CLINICIAN, Role.ADMIN)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role.value}>"


class Patient(db.Model):
    """The patient side of a ``User``: their programme, i.e. which daily items they are asked."""

    __tablename__ = "patient"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    substances: Mapped[list[str]] = mapped_column(JSON, default=list)
    tracks_pain: Mapped[bool] = mapped_column(Boolean, default=False)
    sleep_detail: Mapped[bool] = mapped_column(Boolean, default=True)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # KET-R4: the weekly urinary check is asked while the patient is in a course of repeated dosing.
    urinary_check: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The last day of the induction series: questionnaires are weekly until then if the clinic chooses
    # (PHQ-R13), and the loss-of-response watch measures from the lowest PHQ-9 after it (KET-R2).
    induction_until: Mapped[date | None] = mapped_column(Date)
    # Raised with every write of the patient's data (check-in, form, session): charts are cached under it.
    data_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # How the care team reaches the patient and, in a crisis, the person the patient named (E.164, e.g.
    # "+16175550123", parsed by journal/people.py). Shown to the care team on alerts and the patient page.
    phone: Mapped[str | None] = mapped_column(String(20))
    emergency_contact_name: Mapped[str | None] = mapped_column(String(120))
    emergency_contact_phone: Mapped[str | None] = mapped_column(String(20))
    # SUD-R3's heavy-drinking threshold and AUDIT-C's cut-off depend on it: male | female | other | unknown.
    sex: Mapped[str] = mapped_column(String(8), default="unknown", server_default="unknown")
    # What the patient is treated for (journal/instruments.py INDICATIONS): chooses the questionnaires.
    indications: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The esketamine REMS monitoring form's first item (SPEC 7.4, KET-R8): birth date, and whether the patient is
    # enrolled in the REMS (asked at the first treatment session). Staff only: never in a message or an export.
    birth_date: Mapped[date | None] = mapped_column(Date)
    rems_enrolled: Mapped[bool | None] = mapped_column(Boolean)  # None: not recorded
    # The language of the patient's pages, e-mails and texts (journal/i18n.py LANGUAGES): en | es.
    language: Mapped[str] = mapped_column(String(2), default="en", server_default="en")

    user: Mapped[User] = relationship(back_populates="patient", foreign_keys=[user_id])
    clinicians: Mapped[list[User]] = relationship(secondary="care_team_member", order_by="User.name", viewonly=True)


class ProgrammeChange(db.Model):
    """The programme (what the daily check-in asks) from ``effective_at`` on, as set by ``changed_by``: one row at
    enrolment and one per change, so charts and adherence know when each item started (and stopped)."""

    __tablename__ = "programme_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.user_id", ondelete="CASCADE"), index=True)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    substances: Mapped[list[str]] = mapped_column(JSON, default=list)
    tracks_pain: Mapped[bool] = mapped_column(Boolean, default=False)
    sleep_detail: Mapped[bool] = mapped_column(Boolean, default=True)
    indications: Mapped[list[str]] = mapped_column(JSON, default=list)

    changed_by: Mapped[User | None] = relationship(viewonly=True)


class OnCallShift(db.Model):
    """Who in a clinic is on call from ``starts_at`` to ``ends_at``, and who backs them up (SAFE-R3): the first
    e-mail of a high-priority alert raised in the shift goes to the on-call clinician, its escalation to the
    backup. Shifts of one clinic may overlap; the one that started last is in charge."""

    __tablename__ = "on_call_shift"
    __table_args__ = (Index("ix_on_call_shift_clinic_time", "clinic_id", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    clinician_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    backup_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    clinician: Mapped[User] = relationship(foreign_keys=[clinician_id], viewonly=True)
    backup: Mapped[User | None] = relationship(foreign_keys=[backup_id], viewonly=True)


class CareTeamMember(db.Model):
    """A clinician on a patient's care team: the only thing that lets staff see a patient's data."""

    __tablename__ = "care_team_member"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.user_id", ondelete="CASCADE"), primary_key=True)
    clinician_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invitation(db.Model):
    """A single-use link that lets a newly enrolled patient set a password. Only the token's hash is kept."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class ApiToken(db.Model):
    """A bearer token for API clients. Only the hash is kept; it expires."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # staff tokens expire when idle
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class PasswordReset(db.Model):
    """A single-use link to set a new password, e-mailed to the account's owner. Only the hash is kept."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class MfaRecoveryCode(db.Model):
    """One of the ten single-use codes that stand in for the authenticator app. Only a keyed hash is kept."""

    __tablename__ = "mfa_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignInFailure(db.Model):
    """Failed sign-ins counted per account (a digest of the address given, known or not) and client address,
    so that guessing from one place is slowed without locking the owner out from another."""

    __tablename__ = "sign_in_failure"
    __table_args__ = (UniqueConstraint("account_key", "client_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_key: Mapped[str] = mapped_column(String(64))
    client_key: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateLimitCounter(db.Model):
    """The rate limiter's counters, in the database every web process shares (the default storage; Redis may
    take its place at scale)."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float)  # seconds since the epoch, as the limits library counts


class AuditEvent(db.Model):
    """Append-only: who read or changed which patient's data, and when. The migration adds triggers that
    refuse UPDATE and DELETE on this table, so not even a bug can rewrite history."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    remote_addr: Mapped[str | None] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    patient: Mapped[User | None] = relationship(foreign_keys=[patient_id])


# --- Daily check-ins (SPEC 4-7) ----------------------------------------------------------------------------


class ReportMode(enum.StrEnum):
    ON_TIME = "on_time"  # on the day, or until noon the next day (EMA-R2)
    RETROSPECTIVE = "retrospective"  # back-filled, at most 7 days later (SUD-R2)


class EntrySource(enum.StrEnum):
    PATIENT = "patient"
    CLINICIAN = "clinician"  # from a paper diary or another system


def _str_enum(enum_class: type[enum.Enum]) -> Enum:
    return Enum(enum_class, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class CheckIn(db.Model):
    """One patient's record of one local calendar day. A missing day is simply absent, never assumed."""

    __tablename__ = "checkin"
    __table_args__ = (UniqueConstraint("patient_id", "local_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.user_id", ondelete="CASCADE"))
    local_date: Mapped[date] = mapped_column(Date)
    mood: Mapped[int] = mapped_column(Integer)  # MOOD-R1, 0 worst .. 10 best
    pain: Mapped[int | None] = mapped_column(Integer)  # PAIN-R1, 0 none .. 10 worst
    side_effects: Mapped[list[str]] = mapped_column(JSON, default=list)
    # KET-R4 urinary symptoms; None when the check was not asked that day, [] when asked and none reported.
    urinary: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    note: Mapped[str] = mapped_column(Text, default="")
    report_mode: Mapped[ReportMode] = mapped_column(_str_enum(ReportMode))
    days_after_event: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[EntrySource] = mapped_column(_str_enum(EntrySource))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # The client's id for one submission: a retried or re-queued submission is recognised, not recorded twice.
    submission_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The instant the person pressed Save (the client's clock): of two saves of one day, the later one is kept,
    # whatever order they arrive in (an offline queue may deliver an older answer last).
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A note is "unseen" until a member of the care team opens it (audited); then who and when.
    note_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note_seen_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Until migration 0010 the check-in asked "Did you use it the day before?": its use rows are about the day
    # before ``local_date``. Every save since asks about the check-in's own day and clears this (checkins.use_day).
    uses_about_day_before: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    cravings: Mapped[list[CravingRating]] = relationship(
        cascade="all, delete-orphan", order_by="CravingRating.substance", lazy="selectin"
    )
    uses: Mapped[list[SubstanceUse]] = relationship(
        cascade="all, delete-orphan", order_by="SubstanceUse.substance", lazy="selectin"
    )
    sleep: Mapped[SleepRecord | None] = relationship(cascade="all, delete-orphan", lazy="selectin")


class CravingRating(db.Model):
    """CRV-R1: strongest craving on the check-in's day for one substance, 0-10, with an optional frequency."""

    __tablename__ = "craving_rating"

    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkin.id", ondelete="CASCADE"), primary_key=True)
    substance: Mapped[str] = mapped_column(String(32), primary_key=True)
    intensity: Mapped[int] = mapped_column(Integer)
    frequency: Mapped[str | None] = mapped_column(String(16))


class SubstanceUse(db.Model):
    """SUD-R1: did the patient use this substance on the day the check-in is about; optional amount."""

    __tablename__ = "substance_use"

    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkin.id", ondelete="CASCADE"), primary_key=True)
    substance: Mapped[str] = mapped_column(String(32), primary_key=True)
    used: Mapped[bool] = mapped_column(Boolean)
    amount: Mapped[str | None] = mapped_column(String(100))


class SleepRecord(db.Model):
    """The Consensus Sleep Diary core for the night before the check-in's date, as instants (SLP-R2), with
    the derived TIB and TST kept for aggregation (SE = sum TST / sum TIB, SLP-R4)."""

    __tablename__ = "sleep_record"

    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkin.id", ondelete="CASCADE"), primary_key=True)
    into_bed: Mapped[datetime] = mapped_column(UTCDateTime)
    tried_sleep: Mapped[datetime] = mapped_column(UTCDateTime)
    sol_min: Mapped[int] = mapped_column(Integer)
    awakenings: Mapped[int] = mapped_column(Integer)
    waso_min: Mapped[int] = mapped_column(Integer)
    final_wake: Mapped[datetime] = mapped_column(UTCDateTime)
    out_of_bed: Mapped[datetime] = mapped_column(UTCDateTime)
    quality: Mapped[str] = mapped_column(String(16))
    tib_min: Mapped[int] = mapped_column(Integer)
    tst_min: Mapped[int] = mapped_column(Integer)


# --- Reminders, the outbox and alerts ------------------------------------------------------------------------


class ReminderSettings(db.Model):
    """A patient's daily reminder: local wall-clock time, channels, quiet hours, pause."""

    __tablename__ = "reminder_settings"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.user_id", ondelete="CASCADE"), primary_key=True)
    local_time: Mapped[str] = mapped_column(String(5), default="20:00")  # "HH:MM" in the patient's zone
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    webpush: Mapped[bool] = mapped_column(Boolean, default=False)
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Text messages: only with the patient's consent for their number in force (SmsConsent).
    sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class SmsConsent(db.Model):
    """A patient's consent to text messages at one number: the exact words they agreed to, when, and how (the
    app, the API, or a START keyword). Withdrawing keeps the row and stamps it, so the record of what was agreed
    and when it ended stays. At most one consent per patient is in force (the partial unique index)."""

    __tablename__ = "sms_consent"
    __table_args__ = (
        Index(
            "uq_sms_consent_in_force",
            "patient_id",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.user_id", ondelete="CASCADE"), index=True)
    phone: Mapped[str] = mapped_column(String(20))  # E.164, the number the words named
    words: Mapped[str] = mapped_column(Text)
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    given_via: Mapped[str] = mapped_column(String(16))  # app | api | keyword
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_via: Mapped[str | None] = mapped_column(String(16))  # app | api | keyword


class PushSubscription(db.Model):
    """One browser's Web Push subscription (a patient may have several devices)."""

    __tablename__ = "push_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1024), unique=True)
    p256dh: Mapped[str] = mapped_column(String(255))
    auth: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for its next attempt
    SENDING = "sending"  # claimed by one scheduler run
    SENT = "sent"
    FAILED = "failed"  # given up: a permanent refusal or too many attempts; admins see these
    EXPIRED = "expired"  # its moment passed undelivered (a reminder for a day that is over)
    CANCELLED = "cancelled"  # withdrawn before it went: a text queued when the patient replied STOP


class OutboxMessage(db.Model):
    """Every outgoing message is a row first; the scheduler delivers it. ``dedup_key`` is unique, so the same
    reminder can be queued by any number of runs and exists once. Nothing here carries health information."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | webpush | sms | log
    address: Mapped[str] = mapped_column(Text)  # e-mail address, the push subscription id, or an E.164 number
    template: Mapped[str] = mapped_column(String(32))
    link_path: Mapped[str] = mapped_column(String(255))  # where the message's link leads inside the app
    # A link that is itself a secret (an invitation or reset token): encrypted until sent, then dropped.
    sealed_link: Mapped[str | None] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(_str_enum(OutboxStatus), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    open_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Text messages: the provider's id for the message (Twilio's MessageSid) and the last delivery status its
    # callback reported (delivered, undelivered, failed...), which journal/sms.py matches by that id.
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    provider_status: Mapped[str | None] = mapped_column(String(16))


class Alert(db.Model):
    """Something a clinician must see about a patient. ``dedup_key`` makes raising it idempotent.

    ``escalated_at`` is set once, by the scheduler run that claims the escalation of a high-priority alert
    nobody acknowledged in time (SAFE-R3)."""

    __tablename__ = "alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.user_id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))  # high | medium | low
    reason: Mapped[str] = mapped_column(Text)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(Text)
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessment.id", ondelete="SET NULL"))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who the on-call rota named when the alert was raised (SAFE-R3): the first e-mail's recipient, and the
    # backup who receives its escalation. Both may open this patient's record while the alert concerns them.
    on_call_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    backup_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    patient: Mapped[Patient] = relationship(viewonly=True)
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id], viewonly=True)
    assessment: Mapped[Assessment | None] = relationship(viewonly=True)


# --- Questionnaires (SPEC 1, 2) ------------------------------------------------------------------------------


class Assessment(db.Model):
    """One PHQ-9 or GAD-7: the item answers and what the server scored from them (GEN-R2). Never changed
    after it is stored; a correction is a new form."""

    __tablename__ = "assessment"
    __table_args__ = (
        UniqueConstraint("patient_id", "submission_id"),
        Index("ix_assessment_patient_instrument_completed", "patient_id", "instrument", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.user_id", ondelete="CASCADE"))
    instrument: Mapped[str] = mapped_column(String(8))  # phq9 | gad7
    answers: Mapped[list[int | None]] = mapped_column(JSON)  # one per item in form order; None only on paper
    difficulty: Mapped[str | None] = mapped_column(String(24))  # PHQ-9 item 10, or not_applicable (PHQ-R8)
    total: Mapped[int | None] = mapped_column(Integer)  # None only when item 9 is missing (PHQ-R7)
    band: Mapped[str | None] = mapped_column(String(24))
    prorated: Mapped[bool] = mapped_column(Boolean, default=False)  # PHQ-R12
    two_item_total: Mapped[int | None] = mapped_column(Integer)  # PHQ-2 / GAD-2 (PHQ-R11)
    item9: Mapped[int | None] = mapped_column(Integer)
    safety: Mapped[str | None] = mapped_column(String(8))  # PHQ-9: positive | negative | unknown
    # What an instrument scores beyond the total, under the SPEC's names (PCL-5 clusters and flags with the
    # cut-point in force, PEG score and sum, AUDIT-C positive and its threshold): journal/instruments.py.
    scores: Mapped[dict | None] = mapped_column(JSON)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    days_since_previous: Mapped[int | None] = mapped_column(Integer)  # SPEC 1.10: windows overlap under 14
    source: Mapped[EntrySource] = mapped_column(_str_enum(EntrySource))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    submission_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Baseline(db.Model):
    """The assessment that response and remission are measured against, stored explicitly (PHQ-R9)."""

    __tablename__ = "assessment_baseline"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.user_id", ondelete="CASCADE"), primary_key=True)
    instrument: Mapped[str] = mapped_column(String(8), primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id", ondelete="CASCADE"))
    chosen_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    assessment: Mapped[Assessment] = relationship()


# --- Treatment sessions (SPEC 7.1, 7.4; KET-R1) -------------------------------------------------------------------


class SessionStatus(enum.StrEnum):
    PLANNED = "planned"
    GIVEN = "given"
    CANCELLED = "cancelled"


class CourseKind(enum.StrEnum):
    INDUCTION = "induction"
    MAINTENANCE = "maintenance"


# Routes of administration (SPEC 7.1), as stored -> as shown.
ROUTES: dict[str, str] = {
    "iv": "Intravenous",
    "im": "Intramuscular",
    "intranasal": "Intranasal",
    "oral": "Oral",
    "sublingual": "Sublingual",
}
DOSE_UNITS = ("mg", "mg/kg", "mcg")


class InstrumentSchedule(db.Model):
    """A clinic's schedule for one questionnaire, replacing the default of its definition
    (journal/instruments.py): every N days, N days after each given session, and/or N days before each
    planned one; never twice within ``min_gap_days``."""

    __tablename__ = "instrument_schedule"

    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), primary_key=True)
    instrument: Mapped[str] = mapped_column(String(8), primary_key=True)
    every_days: Mapped[int | None] = mapped_column(Integer)
    days_after_session: Mapped[int | None] = mapped_column(Integer)
    days_before_session: Mapped[int | None] = mapped_column(Integer)
    min_gap_days: Mapped[int] = mapped_column(Integer)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TreatmentCourse(db.Model):
    """A series of sessions: an induction series, or maintenance (boosters) after it."""

    __tablename__ = "treatment_course"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.user_id", ondelete="CASCADE"), index=True)
    kind: Mapped[CourseKind] = mapped_column(_str_enum(CourseKind))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class DosingSession(db.Model):
    """One dosing session, planned or given, with the at-session measures a clinician records (SPEC 7.4).
    Never self-administered in the app: only staff write these."""

    __tablename__ = "dosing_session"
    __table_args__ = (Index("ix_dosing_session_patient_start", "patient_id", "start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.user_id", ondelete="CASCADE"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_course.id", ondelete="SET NULL"))
    status: Mapped[SessionStatus] = mapped_column(_str_enum(SessionStatus))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    route: Mapped[str] = mapped_column(String(16))
    product: Mapped[str] = mapped_column(String(120))
    dose: Mapped[float] = mapped_column(Float)
    dose_unit: Mapped[str] = mapped_column(String(8))
    weight_kg: Mapped[float | None] = mapped_column(Float)  # for a weight-based dose
    setting: Mapped[str] = mapped_column(String(8), default="clinic")  # clinic | home
    bp_systolic_pre: Mapped[int | None] = mapped_column(Integer)
    bp_diastolic_pre: Mapped[int | None] = mapped_column(Integer)
    heart_rate_pre: Mapped[int | None] = mapped_column(Integer)
    bp_systolic_post: Mapped[int | None] = mapped_column(Integer)  # about 40 minutes after dosing
    bp_diastolic_post: Mapped[int | None] = mapped_column(Integer)
    heart_rate_post: Mapped[int | None] = mapped_column(Integer)
    dissociation_score: Mapped[int | None] = mapped_column(Integer)  # CADSS total: tolerability only (KET-R7)
    observation_minutes: Mapped[int | None] = mapped_column(Integer)
    discharge_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The rest of the at-session record (SPEC 7.4, KET-R8: what the esketamine REMS monitoring form asks).
    spo2_pre: Mapped[int | None] = mapped_column(Integer)  # %
    spo2_post: Mapped[int | None] = mapped_column(Integer)
    sedation: Mapped[int | None] = mapped_column(Integer)  # MOAA/S, 0 (no response) to 5 (alert)
    bp_systolic_discharge: Mapped[int | None] = mapped_column(Integer)  # before the end of the session
    bp_diastolic_discharge: Mapped[int | None] = mapped_column(Integer)
    heart_rate_discharge: Mapped[int | None] = mapped_column(Integer)
    ready_to_leave_minutes: Mapped[int | None] = mapped_column(Integer)  # the REMS evaluation question
    lot_number: Mapped[str] = mapped_column(String(40), default="", server_default="")
    transport_arranged: Mapped[bool | None] = mapped_column(Boolean)  # checked before dosing
    escort: Mapped[str] = mapped_column(String(120), default="", server_default="")  # who takes the patient home
    # When the SpO2 and sedation readings were taken (SPEC 7.4: time-stamped); None: not recorded.
    spo2_pre_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    spo2_post_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sedation_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The REMS form's item 2: sedating or pressor medication, yes/no per class (sessions.CONCOMITANT_CLASSES; a class
    # left out was not recorded), and the medication as the clinician wrote it.
    concomitant_classes: Mapped[dict[str, bool] | None] = mapped_column(JSON)
    concomitant_medication: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # The clinician of the patient's care team who monitored the patient (the form's item 3), who need not be the
    # one who entered the record (entered_by).
    monitored_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    notes: Mapped[str] = mapped_column(Text, default="")
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[TreatmentCourse | None] = relationship()
    monitored_by: Mapped[User | None] = relationship(foreign_keys=[monitored_by_id], viewonly=True)

    @property
    def dose_mg_per_kg(self) -> float | None:
        if self.dose_unit == "mg/kg":
            return self.dose
        if self.dose_unit == "mg" and self.weight_kg:
            return round(self.dose / self.weight_kg, 3)
        return None


class SideEffectCheck(db.Model):
    """KET-R3: the patient's side-effect check the morning after a session and again at 72 hours."""

    __tablename__ = "side_effect_check"
    __table_args__ = (UniqueConstraint("session_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("dosing_session.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.user_id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # morning_after | 72h
    answers: Mapped[dict] = mapped_column(JSON, default=dict)  # item -> 0..10; "drove" -> bool
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChartCache(db.Model):
    """Rendered charts, shared by every web process, keyed by the patient's data version (so a new entry
    makes a new key and old ones are simply never asked for again)."""

    __tablename__ = "chart_cache"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.user_id", ondelete="CASCADE"), index=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
