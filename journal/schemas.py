"""marshmallow schemas: the one place input is validated, for the HTML forms and the JSON API alike."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate, validates, validates_schema
from werkzeug.datastructures import MultiDict

from . import instruments, schedules
from .accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, TOO_LONG, TOO_SHORT
from .checkins import CRAVING_FREQUENCIES, SIDE_EFFECTS, URINARY_SYMPTOMS
from .i18n import DEFAULT_LANGUAGE, LANGUAGES
from .models import SUBSTANCES, Role
from .people import OLDEST_AGE, PHONE_MAX_LENGTH, SEXES, emergency_contact
from .sessions import NOT_A_MONITOR
from .sleep import QUALITIES, resolve_clock_times
from .vitals import (
    CONCOMITANT_CLASSES,
    POST_READING_WINDOW,
    PRE_READING_WINDOW,
    SEDATION_SCALE,
    concomitant_answers,
    reading_time_problems,
    vitals_warnings,
)
from .wording import N_, Wording


@cache
def iana_zones() -> frozenset[str]:
    return frozenset(available_timezones())


# marshmallow's own messages, for a field whose schema gives none of its own: marked so that a patient's page shows
# them in the patient's language (templates/_forms.html translates each error; the API gives them as written).
# tests/test_translations.py checks that they are still marshmallow's words.
MARSHMALLOW_MESSAGES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Not a valid string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Not a valid boolean."),
    N_("Not a valid list."),
    N_("Not a valid date."),
    N_("Not a valid email address."),
    N_("Invalid type."),
    N_("Invalid input type."),
    N_("Unknown field."),
)


class StrictSchema(Schema):
    """Input: unknown fields are refused, and so is text with a NUL character, which PostgreSQL cannot store."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _refuse_nul_characters(self, data, **_kwargs):
        if isinstance(data, Mapping):
            errors = {
                key: [N_("Remove the NUL character from this text.")] for key, value in data.items() if _has_nul(value)
            }
            if errors:
                raise ValidationError(errors)
        return data


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    return isinstance(value, list) and any(_has_nul(item) for item in value)


def _name_field() -> fields.String:
    return fields.String(
        required=True, validate=validate.Length(min=1, max=120, error="Give a name of 1 to 120 characters.")
    )


class TimezoneField(fields.String):
    """An IANA time zone name such as ``America/New_York`` (documented as the list of them)."""

    def __init__(self, **kwargs):
        error = N_("Choose a time zone from the list (an IANA name such as America/New_York).")
        super().__init__(validate=validate.OneOf(sorted(iana_zones()), error=error), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class StrictBoolean(fields.Boolean):
    """``true`` or ``false`` only: not ``0``, ``1``, ``"yes"`` or ``"on"`` (a form's tick box arrives as a bool)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class PasswordField(fields.String):
    """A new password: its length here (and in the OpenAPI document); what else makes it unusable (common, built
    from the person's name) is accounts.password_problem's to say, where the person is known."""

    def __init__(self, **kwargs):
        super().__init__(
            required=True,
            validate=[
                validate.Length(min=MIN_PASSWORD_LENGTH, error=TOO_SHORT),
                validate.Length(max=MAX_PASSWORD_LENGTH, error=TOO_LONG),
            ],
            **kwargs,
        )


class CredentialsSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))
    otp = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "For an account with two-step sign-in: the 6-digit code, or a recovery code."},
    )


class LoginFormSchema(CredentialsSchema):
    next = fields.String(load_default=None)


class PasswordSchema(StrictSchema):
    password = PasswordField()


PHONE_HELP = (
    "As the person writes it: a number without a country code is read in the country of the patient's time zone; "
    "start another country's number with + and its code. Stored and returned in E.164, e.g. +13125550123; an "
    "empty string or null removes it."
)


def _phone_number(**kwargs) -> fields.String:
    """A phone number as typed; journal/people.py reads it (in the patient's country) and refuses what cannot
    be called, naming the field."""
    return fields.String(
        allow_none=True,
        validate=validate.Length(
            max=PHONE_MAX_LENGTH,
            error=Wording(N_("Keep the number under %(count)d characters."), count=PHONE_MAX_LENGTH),
        ),
        metadata={"description": PHONE_HELP},
        **kwargs,
    )


class EmergencyContactSchema(StrictSchema):
    """The person to call in a crisis, whom the patient named: a name and a phone number, both or neither."""

    name = fields.String(
        allow_none=True,
        validate=validate.Length(max=120, error=Wording(N_("Give a name of at most %(count)d characters."), count=120)),
    )
    phone = _phone_number()


def _emergency_contact(**kwargs) -> fields.Nested:
    return fields.Nested(
        EmergencyContactSchema,
        allow_none=True,
        metadata={"description": "{name, phone}: both or neither; null (or both empty) removes it."},
        **kwargs,
    )


def _sex(**kwargs) -> fields.String:
    return fields.String(
        validate=validate.OneOf(list(SEXES), error="Choose one of the options."),
        metadata={"description": "male, female, other or unknown: the heavy-drinking threshold depends on it."},
        **kwargs,
    )


def _language(**kwargs) -> fields.String:
    return fields.String(
        validate=validate.OneOf(
            list(LANGUAGES), error=Wording(N_("Choose a language: %(codes)s."), codes=" or ".join(LANGUAGES))
        ),
        metadata={"description": "The language of the patient's pages, e-mails and texts: en or es."},
        **kwargs,
    )


def _birth_date(**kwargs) -> fields.Date:
    # Not in the future, nor absurdly far back: people.birth_date_problem judges that on the patient's own date.
    return fields.Date(
        allow_none=True,
        error_messages={"invalid": "Give a date such as 1980-04-23, or leave it empty."},
        metadata={
            "description": "The patient's birth date (YYYY-MM-DD), for the care team only (the esketamine REMS "
            f"monitoring form asks for it): not in the future, nor more than {OLDEST_AGE} years back; null removes "
            "it. Never in a message or an export."
        },
        **kwargs,
    )


def _substances(**kwargs) -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(list(SUBSTANCES), error="Unknown substance.")),
        validate=validate.Length(max=len(SUBSTANCES)),
        **kwargs,
    )


INDICATIONS_HELP = (
    "What the patient is treated for, one or more of "
    + ", ".join(instruments.INDICATIONS)
    + ": they choose the questionnaires and switch on daily items (chronic_pain the daily pain item, alcohol the "
    "alcohol craving and use; substance_use needs at least one substance besides alcohol)."
)


def _indications(**kwargs) -> fields.List:
    keys = list(instruments.INDICATIONS)
    return fields.List(
        fields.String(validate=validate.OneOf(keys, error=f"Unknown indication: choose from {', '.join(keys)}.")),
        validate=validate.Length(min=1, max=len(keys), error="Choose at least one indication, each once."),
        **kwargs,
    )


def _one_of_each(value: list[str] | None, what: str) -> None:
    if value is not None and len(set(value)) != len(value):  # None: the indications left out of an enrolment
        raise ValidationError(f"List each {what} once.")


class PatientEnrolmentSchema(StrictSchema):
    name = _name_field()
    email = fields.Email(required=True, validate=validate.Length(max=254))
    timezone = TimezoneField(required=True)
    substances = _substances(load_default=list)
    tracks_pain = StrictBoolean(load_default=False)
    sleep_detail = StrictBoolean(load_default=True)
    phone = _phone_number(load_default=None)
    emergency_contact = _emergency_contact(load_default=None)
    sex = _sex(load_default="unknown")
    birth_date = _birth_date(load_default=None)
    language = _language(load_default=DEFAULT_LANGUAGE)
    indications = _indications(
        load_default=None,
        allow_none=False,  # left out is inferred; null is refused
        metadata={
            "description": INDICATIONS_HELP + " Left out (older clients), they are inferred from the daily items as "
            "migration 0011 did for patients enrolled before: depression, plus chronic_pain, alcohol and "
            "substance_use for the pain item, alcohol and the other substances."
        },
    )

    @validates("substances")
    def _no_repeats(self, value: list[str], **_kwargs) -> None:
        _one_of_each(value, "substance")

    @validates("indications")
    def _no_repeated_indications(self, value: list[str], **_kwargs) -> None:
        _one_of_each(value, "indication")


class MeUpdateSchema(StrictSchema):
    """PATCH /api/v1/me (a patient): any of these; a field left out is left as it is."""

    timezone = TimezoneField(metadata={"description": "An IANA zone; reminders follow it."})
    phone = _phone_number()
    emergency_contact = _emergency_contact()
    language = _language()


class PatientUpdateSchema(MeUpdateSchema):
    """PATCH /api/v1/patients/{id} (the care team), and the care team's Edit details page: the patient's details
    and programme. Any of these; a field left out is left as it is. A programme change is kept in its history."""

    sex = _sex()
    indications = _indications(metadata={"description": INDICATIONS_HELP})
    substances = _substances(metadata={"description": "The substances the check-in asks about, each once."})
    tracks_pain = StrictBoolean()
    sleep_detail = StrictBoolean()
    urinary_check = StrictBoolean(metadata={"description": "The weekly urinary check (while dosing repeatedly)."})
    induction_until = fields.Date(
        allow_none=True,
        validate=validate.Range(date(2000, 1, 1), date(2099, 12, 31), error="Give a date between 2000 and 2099."),
        error_messages={"invalid": "Give a date such as 2026-03-20, or leave it empty."},
        metadata={"description": "The last day of the induction series, or null."},
    )
    birth_date = _birth_date()
    rems_enrolled = StrictBoolean(
        allow_none=True,
        error_messages={"invalid": "Choose yes, no or not recorded."},
        metadata={
            "description": "Whether the patient is enrolled in the esketamine REMS (the monitoring form asks at the "
            "first treatment session); null: not recorded. For the care team only."
        },
    )

    @validates("substances")
    def _no_repeats(self, value: list[str], **_kwargs) -> None:
        _one_of_each(value, "substance")

    @validates("indications")
    def _no_repeated_indications(self, value: list[str], **_kwargs) -> None:
        _one_of_each(value, "indication")


class StaffSchema(StrictSchema):
    name = _name_field()
    email = fields.Email(required=True, validate=validate.Length(max=254))
    role = fields.String(required=True, validate=validate.OneOf([Role.CLINICIAN.value, Role.ADMIN.value]))
    timezone = TimezoneField(required=True)


class CareTeamAddSchema(StrictSchema):
    clinician_id = fields.Integer(required=True, strict=True)


# --- Output -----------------------------------------------------------------------------------------------


class TokenSchema(Schema):
    token = fields.String(required=True)
    expires_at = fields.AwareDateTime(required=True)


def _patient_of(user):
    return user.patient if user.role == Role.PATIENT else None


class MeSchema(Schema):
    id = fields.Integer(required=True)
    role = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    timezone = fields.String(required=True)
    phone = fields.Function(
        lambda user: _patient_of(user).phone if _patient_of(user) else None,
        allow_none=True,
        metadata={"description": "A patient's phone (E.164); null for staff or when none is given."},
    )
    emergency_contact = fields.Function(
        lambda user: emergency_contact(_patient_of(user)) if _patient_of(user) else None,
        allow_none=True,
        metadata={"description": "A patient's emergency contact {name, phone}, or null."},
    )
    language = fields.Function(
        lambda user: _patient_of(user).language if _patient_of(user) else None,
        allow_none=True,
        metadata={"description": "A patient's language (en or es); null for staff."},
    )


class ClinicianRefSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class PatientSchema(Schema):
    id = fields.Integer(required=True, attribute="user_id")
    name = fields.String(required=True, attribute="user.name")
    email = fields.String(required=True, attribute="user.email")
    timezone = fields.String(required=True, attribute="user.timezone")
    indications = fields.List(
        fields.String(), required=True, metadata={"description": "What the patient is treated for (see enrolment)."}
    )
    substances = fields.List(fields.String(), required=True)
    tracks_pain = fields.Boolean(required=True)
    sleep_detail = fields.Boolean(required=True)
    enrolled_at = fields.AwareDateTime(required=True)
    activated = fields.Function(lambda patient: patient.user.activated_at is not None, required=True)
    care_team = fields.List(fields.Nested(ClinicianRefSchema), attribute="clinicians", required=True)
    phone = fields.String(allow_none=True, metadata={"description": "E.164, e.g. +13125550123; null if none."})
    emergency_contact = fields.Function(
        emergency_contact, allow_none=True, metadata={"description": "{name, phone (E.164)}, or null."}
    )
    sex = fields.String(required=True, metadata={"description": "male, female, other or unknown"})
    language = fields.String(required=True, metadata={"description": "en or es: the patient's pages and messages"})
    urinary_check = fields.Boolean()
    induction_until = fields.Date(allow_none=True)
    birth_date = fields.Date(allow_none=True, metadata={"description": "YYYY-MM-DD, or null if not recorded."})
    rems_enrolled = fields.Boolean(
        allow_none=True, metadata={"description": "Enrolled in the esketamine REMS; null if not recorded."}
    )


class PatientDetailSchema(PatientSchema):
    """One patient (GET and PATCH /api/v1/patients/{id})."""

    unseen_notes = fields.Integer(
        required=True, metadata={"description": "Check-in notes no one on the care team has opened yet."}
    )


class EnrolledPatientSchema(PatientSchema):
    invitation_url = fields.String(required=True)


class ActivatedSchema(Schema):
    id = fields.Integer(required=True)
    role = fields.String(required=True)


def flat_messages(messages) -> list[str]:
    """A field's error messages as one list, each once: a list field's come by item ({0: [...]}) and a nested
    field's by member, which a page does not name."""
    if isinstance(messages, dict):
        found = [text for value in messages.values() for text in flat_messages(value)]
    elif isinstance(messages, list):
        found = [text for value in messages for text in flat_messages(value)]
    else:
        found = [str(messages)]
    return list(dict.fromkeys(found))


def form_input(schema: Schema, form: MultiDict) -> dict:
    """An HTML form's fields in the shape the schema expects: lists from repeated fields, unticked boxes as
    false, a nested object from the fields named after it (``emergency_contact_name``), an empty date left out,
    and the CSRF token left out (it was checked before the view ran)."""
    data: dict = {}
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
        key = field.data_key or name
        if isinstance(field, fields.List):
            data[key] = form.getlist(key)
        elif isinstance(field, fields.Nested) and not field.many:
            # One group of the form's fields, named ``<group>_<member>`` (emergency_contact_name ...).
            members = {name: f"{key}_{name}" for name in field.schema.fields}
            if any(name in form for name in members.values()):
                data[key] = {member: form.get(name, "") for member, name in members.items()}
        elif isinstance(field, fields.Boolean):
            data[key] = key in form
        elif key in form:
            if isinstance(field, fields.Date) and not form[key].strip():
                continue  # an empty date box: not given, so the field's default
            data[key] = _form_value(field, form[key])
    return data


def _form_value(field: fields.Field, value: str):
    # A form sends text; strict integer fields (strict for JSON) take its digits as the number they spell.
    # Anything else is passed on as given, so the field's own validation names the problem.
    if isinstance(field, fields.Integer) and re.fullmatch(r"[+-]?\d{1,9}", value.strip()):
        return int(value)
    return value


# --- Daily check-in (SPEC 4-7) ----------------------------------------------------------------------------

CHOOSE_0_TO_10 = N_("Choose a number from 0 to 10.")
ANSWER_YES_OR_NO = N_("Answer yes or no.")


def _zero_to_ten(**kwargs) -> fields.Integer:
    return fields.Integer(
        strict=True,
        validate=validate.Range(0, 10, error=CHOOSE_0_TO_10),
        error_messages={"required": CHOOSE_0_TO_10, "null": CHOOSE_0_TO_10, "invalid": CHOOSE_0_TO_10},
        **kwargs,
    )


def _minutes(maximum: int, out_of_range: str, missing: str) -> fields.Integer:
    # Whole sentences, each marked for translation (a sentence built from pieces cannot be translated).
    return fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(0, maximum, error=out_of_range),
        error_messages={"required": missing, "invalid": N_("Enter a whole number.")},
    )


class CravingSchema(StrictSchema):
    substance = fields.String(required=True, validate=validate.OneOf(list(SUBSTANCES)))
    intensity = _zero_to_ten(required=True)
    frequency = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(list(CRAVING_FREQUENCIES)))


class UseSchema(StrictSchema):
    substance = fields.String(required=True, validate=validate.OneOf(list(SUBSTANCES)))
    used = fields.Boolean(
        required=True, truthy={True}, falsy={False}, error_messages={"required": N_("Answer yes or no.")}
    )
    amount = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))


class SleepSchema(StrictSchema):
    """The Consensus Sleep Diary core (SPEC 5.1); times are instants with a UTC offset (SLP-R2)."""

    into_bed = fields.AwareDateTime(required=True)
    tried_sleep = fields.AwareDateTime(required=True)
    sol_min = _minutes(
        720,
        N_("Enter the minutes it took to fall asleep from 0 to 720."),
        N_("Enter the minutes it took to fall asleep."),
    )
    awakenings = _minutes(60, N_("Enter how many times you woke from 0 to 60."), N_("Enter how many times you woke."))
    waso_min = _minutes(
        1440, N_("Enter the minutes awake in the night from 0 to 1440."), N_("Enter the minutes awake in the night.")
    )
    final_wake = fields.AwareDateTime(required=True)
    out_of_bed = fields.AwareDateTime(required=True)
    quality = fields.String(
        required=True,
        validate=validate.OneOf(list(QUALITIES)),
        error_messages={"required": N_("Choose how well you slept.")},
    )


class CheckInSchema(StrictSchema):
    """One day's check-in, as the phone form and PUT /api/v1/checkins/{date} send it."""

    mood = _zero_to_ten(required=True)
    cravings = fields.List(
        fields.Nested(CravingSchema), load_default=list, validate=validate.Length(max=len(SUBSTANCES))
    )
    use = fields.List(fields.Nested(UseSchema), load_default=list, validate=validate.Length(max=len(SUBSTANCES)))
    sleep = fields.Nested(SleepSchema, load_default=None, allow_none=True)
    pain = _zero_to_ten(load_default=None, allow_none=True)
    side_effects = fields.List(
        fields.String(validate=validate.OneOf(list(SIDE_EFFECTS))),
        load_default=list,
        validate=validate.Length(max=len(SIDE_EFFECTS)),
    )
    urinary = fields.List(
        fields.String(validate=validate.OneOf(list(URINARY_SYMPTOMS))),
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=len(URINARY_SYMPTOMS)),
        metadata={"description": "KET-R4 urinary symptoms, when the check was asked ([] for none); null otherwise."},
    )
    note = fields.String(
        load_default="", validate=validate.Length(max=2000, error=N_("Keep the note under 2000 characters."))
    )
    submission_id = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{8,64}$")
    )
    saved_at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The instant Save was pressed (ISO-8601 with offset); the server's clock when left out. "
            "Of two saves of one day the later is kept: an earlier one arriving last is answered 409."
        },
    )


class SleepOutSchema(Schema):
    into_bed = fields.AwareDateTime()
    tried_sleep = fields.AwareDateTime()
    sol_min = fields.Integer()
    awakenings = fields.Integer()
    waso_min = fields.Integer()
    final_wake = fields.AwareDateTime()
    out_of_bed = fields.AwareDateTime()
    quality = fields.String()
    tib_min = fields.Integer()
    tst_min = fields.Integer()
    se_pct = fields.Float()
    se_attempt_pct = fields.Float(allow_none=True)
    pre_sleep_min = fields.Integer()
    terminal_wake_min = fields.Integer()
    warnings = fields.List(fields.String())


class CravingOutSchema(Schema):
    substance = fields.String()
    intensity = fields.Integer()
    frequency = fields.String(allow_none=True)


class UseOutSchema(Schema):
    substance = fields.String()
    used = fields.Boolean()
    amount = fields.String(allow_none=True)


class CheckInOutSchema(Schema):
    """A stored check-in, with the derived sleep metrics (also at the top level, null without a sleep entry)."""

    date = fields.Date(attribute="local_date", required=True)
    mood = fields.Integer(required=True)
    pain = fields.Integer(allow_none=True)
    cravings = fields.List(fields.Nested(CravingOutSchema))
    use = fields.List(fields.Nested(UseOutSchema), attribute="uses")
    sleep = fields.Method("_sleep", allow_none=True)
    side_effects = fields.List(fields.String())
    urinary = fields.List(fields.String(), allow_none=True)
    note = fields.String()
    report_mode = fields.String(required=True)
    days_after_event = fields.Integer(required=True)
    source = fields.String(required=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    saved_at = fields.AwareDateTime()
    tib_min = fields.Method("_tib", allow_none=True)
    tst_min = fields.Method("_tst", allow_none=True)
    se_pct = fields.Method("_se", allow_none=True)

    def _metrics(self, checkin):
        from .checkins import sleep_metrics

        return sleep_metrics(checkin.sleep) if checkin.sleep else None

    def _sleep(self, checkin):
        metrics = self._metrics(checkin)
        if metrics is None:
            return None
        record = checkin.sleep
        values = {name: getattr(record, name) for name in SleepSchema().fields}
        values.update(
            tib_min=metrics.tib_min, tst_min=metrics.tst_min, se_pct=metrics.se_pct,
            se_attempt_pct=metrics.se_attempt_pct, pre_sleep_min=metrics.pre_sleep_min,
            terminal_wake_min=metrics.terminal_wake_min, warnings=list(metrics.warnings),
        )  # fmt: skip
        return SleepOutSchema().dump(values)

    def _tib(self, checkin):
        return checkin.sleep.tib_min if checkin.sleep else None

    def _tst(self, checkin):
        return checkin.sleep.tst_min if checkin.sleep else None

    def _se(self, checkin):
        metrics = self._metrics(checkin)
        return metrics.se_pct if metrics else None


# The phone form names its fields for people (one block per substance, clock times for sleep); these turn it
# into the API's shape, so that one schema validates both, and turn errors back into the form's names.

SLEEP_TIMES = ("into_bed", "tried_sleep", "final_wake", "out_of_bed")
SLEEP_NUMBERS = ("sol_min", "awakenings", "waso_min")


def _form_int(value: str | None):
    if value is None or value.strip() == "":
        return None
    return int(value) if re.fullmatch(r"[+-]?\d{1,9}", value.strip()) else value


def _drop_missing(row: dict) -> dict:
    return {key: value for key, value in row.items() if value is not None}


def checkin_form_input(form: MultiDict, patient, day: date) -> dict:
    """The check-in form as CheckInSchema input. Clock times are resolved to instants in the patient's zone
    (SLP-R2); an unanswered question is left out, so that the schema says it is required."""
    data = _drop_missing(
        {
            "mood": _form_int(form.get("mood")),
            "pain": _form_int(form.get("pain")) if patient.tracks_pain else None,
            "note": form.get("note", ""),
            "submission_id": form.get("submission_id") or None,
            "saved_at": form.get("saved_at") or None,
        }
    )
    data["side_effects"] = form.getlist("side_effects")
    if form.get("urinary_asked"):
        data["urinary"] = form.getlist("urinary")
    data["cravings"] = [
        _drop_missing(
            {
                "substance": code,
                "intensity": _form_int(form.get(f"craving-{code}")),
                "frequency": form.get(f"frequency-{code}") or None,
            }
        )
        for code in patient.substances
    ]
    answers = {"yes": True, "no": False}
    data["use"] = [
        _drop_missing(
            {
                "substance": code,
                "used": answers.get(form.get(f"used-{code}", "")),
                "amount": (form.get(f"amount-{code}") or "").strip() or None,
            }
        )
        for code in patient.substances
    ]
    data["sleep"] = _sleep_form_input(form, patient, day)
    return data


def _sleep_form_input(form: MultiDict, patient, day: date) -> dict | None:
    names = (*SLEEP_TIMES, *SLEEP_NUMBERS, "quality")
    if not patient.sleep_detail or not any((form.get(name) or "").strip() for name in names):
        return None  # the sleep part was skipped
    clock, errors = {}, {}
    for name in SLEEP_TIMES:
        try:
            clock[name] = time.fromisoformat((form.get(name) or "").strip())
        except ValueError:
            errors[name] = [N_("Enter a time, such as 22:30.")]
    if errors:
        raise ValidationError({"sleep": errors})
    instants = resolve_clock_times(day, ZoneInfo(patient.user.timezone), clock)
    sleep = {name: instant.isoformat() for name, instant in instants.items()}
    sleep.update({name: _form_int(form.get(name)) for name in SLEEP_NUMBERS})
    sleep["quality"] = form.get("quality") or None
    return _drop_missing(sleep)


def checkin_form_errors(messages: dict, patient) -> dict[str, list[str]]:
    """Schema or domain errors, keyed by the form's own field names (anything else under 'form')."""
    flat: dict[str, list[str]] = {}

    def add(name: str, value) -> None:
        flat.setdefault(name, []).extend(value if isinstance(value, list) else [str(value)])

    substances = list(patient.substances)
    for key, value in messages.items():
        if key in ("cravings", "use") and isinstance(value, dict):
            for index, row in value.items():
                code = substances[int(index)] if str(index).isdigit() and int(index) < len(substances) else None
                for field, field_messages in row.items() if isinstance(row, dict) else [("", row)]:
                    name = {"intensity": "craving", "frequency": "frequency", "used": "used", "amount": "amount"}.get(
                        field
                    )
                    add(f"{name}-{code}" if name and code else "form", field_messages)
        elif key == "sleep" and isinstance(value, dict):
            for field, field_messages in value.items():
                add(field if field in (*SLEEP_TIMES, *SLEEP_NUMBERS, "quality") else "sleep", field_messages)
        elif key.startswith("sleep."):
            add(key.removeprefix("sleep."), value)
        elif key in ("mood", "pain", "note", "side_effects", "urinary", "sleep"):
            add(key, value)
        else:
            add("form", value)
    return flat


def checkin_form_values(checkin, zone: ZoneInfo) -> MultiDict:
    """A stored check-in as the form's values, for editing it the same day."""
    values = MultiDict({"mood": str(checkin.mood), "note": checkin.note})
    if checkin.pain is not None:
        values["pain"] = str(checkin.pain)
    for craving in checkin.cravings:
        values[f"craving-{craving.substance}"] = str(craving.intensity)
        if craving.frequency:
            values[f"frequency-{craving.substance}"] = craving.frequency
    for use in checkin.uses:
        values[f"used-{use.substance}"] = "yes" if use.used else "no"
        values[f"amount-{use.substance}"] = use.amount or ""
    for code in checkin.side_effects:
        values.add("side_effects", code)
    for code in checkin.urinary or []:
        values.add("urinary", code)
    if checkin.sleep:
        record = checkin.sleep
        for name in SLEEP_TIMES:
            values[name] = getattr(record, name).astimezone(zone).strftime("%H:%M")
        for name in SLEEP_NUMBERS:
            values[name] = str(getattr(record, name))
        values["quality"] = record.quality
    return values


# --- Reminder settings -----------------------------------------------------------------------------------------

HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error=N_("Give a time as HH:MM, such as 20:00."))
CHANNELS = N_("Choose e-mail, notifications or text messages.")


class ReminderSettingsSchema(StrictSchema):
    """GET/PUT /api/v1/me/reminders: the daily reminder, in the patient's local time."""

    time = fields.String(required=True, validate=HHMM)
    channels = fields.List(
        fields.String(validate=validate.OneOf(["email", "webpush", "sms"], error=CHANNELS)),
        required=True,
        validate=validate.Length(max=3, error=CHANNELS),
    )
    quiet_start = fields.String(load_default=None, allow_none=True, validate=HHMM)
    quiet_end = fields.String(load_default=None, allow_none=True, validate=HHMM)
    paused = StrictBoolean(load_default=False)

    @validates_schema
    def _quiet_hours_have_both_ends(self, data, **_kwargs):
        if (data.get("quiet_start") is None) != (data.get("quiet_end") is None):
            raise ValidationError(N_("Give both ends of the quiet hours, or neither."), "quiet_end")
        if len(set(data.get("channels", []))) != len(data.get("channels", [])):
            raise ValidationError(N_("List each channel once."), "channels")


class SmsConsentSchema(StrictSchema):
    """POST /api/v1/me/sms-consent: the patient agrees to the words GET shows."""

    agree = StrictBoolean(required=True, validate=validate.Equal(True, error="Send true to agree to texts."))


class SmsConsentStateSchema(Schema):
    """GET/POST /api/v1/me/sms-consent: whether texts are agreed to, and the words (shown, or agreed to)."""

    agreed = fields.Boolean(required=True)
    phone = fields.String(allow_none=True, metadata={"description": "The number texts go to (E.164)."})
    words = fields.String(
        allow_none=True, metadata={"description": "The words to agree to, or agreed to; null without a phone."}
    )
    given_at = fields.DateTime(allow_none=True)


class PushSubscriptionKeysSchema(StrictSchema):
    p256dh = fields.String(required=True, validate=validate.Length(min=1, max=255))
    auth = fields.String(required=True, validate=validate.Length(min=1, max=255))


class PushSubscriptionSchema(Schema):
    """A browser's PushSubscription.toJSON(); unknown members (expirationTime) are ignored."""

    class Meta:
        unknown = EXCLUDE

    endpoint = fields.Url(required=True, schemes={"https"}, require_tld=False, validate=validate.Length(max=1024))
    keys = fields.Nested(PushSubscriptionKeysSchema, required=True)


class PushSubscriptionCreatedSchema(Schema):
    id = fields.Integer(required=True)


def reminder_form_input(form: MultiDict) -> dict:
    return {
        "time": form.get("time", ""),
        "channels": form.getlist("channels"),
        "quiet_start": form.get("quiet_start") or None,
        "quiet_end": form.get("quiet_end") or None,
        "paused": "paused" in form,
    }


# --- Questionnaires (SPEC 1, 2) and alerts (SPEC 8) ------------------------------------------------------------


class AssessmentSchema(StrictSchema):
    """POST /api/v1/assessments: a questionnaire, scored on the server from the item answers (GEN-R2)."""

    instrument = fields.String(
        required=True,
        validate=validate.OneOf(list(instruments.KEYS)),
        metadata={"description": "phq9 (phq8 where the clinic chose SAFE-R4), gad7, pcl5, peg, pacs or auditc."},
    )
    answers = fields.List(
        fields.Integer(
            strict=True,
            allow_none=True,
            validate=validate.Range(0, 10, error="Each answer is a whole number from 0 to 10 at most."),
        ),
        required=True,
        validate=validate.Length(min=3, max=20),
        metadata={
            "description": "One answer per item in form order: 0-3 (PHQ, GAD-7), 0-4 (PCL-5, AUDIT-C), 0-10 "
            "(PEG), 0-6 (PACS); each instrument checks its own range. null marks an unanswered item, which only "
            "a clinician's paper PHQ-9 or GAD-7 may have (one or two are prorated; item 9 never is), and AUDIT-C "
            'items 2 and 3 after "Never" (AUDC-R3).'
        },
    )
    difficulty = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(["not_difficult", "somewhat_difficult", "very_difficult", "extremely_difficult"]),
        metadata={"description": "PHQ-9 item 10 (not scored)."},
    )
    completed_at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "Required for a clinician's paper entry (in the past); a patient's is now."},
    )
    patient_id = fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.Range(1, 2**31 - 1),
        metadata={"description": "A clinician entering a form for a patient on their care team."},
    )
    submission_id = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{8,64}$")
    )


class CrisisResourcesSchema(Schema):
    call = fields.String()
    text = fields.String()
    emergency = fields.String()
    clinic_phone = fields.String(allow_none=True)
    clinic_hours = fields.String()
    review_promise = fields.String()


class AssessmentOutSchema(Schema):
    """A stored form with its scores and how it compares with the previous form and the baseline."""

    id = fields.Integer(required=True)
    patient_id = fields.Integer(required=True)
    instrument = fields.String(required=True)
    answers = fields.List(fields.Integer(allow_none=True))
    difficulty = fields.String(allow_none=True)
    total = fields.Integer(allow_none=True, metadata={"description": "null only when item 9 is missing"})
    band = fields.String(allow_none=True)
    prorated = fields.Boolean()
    two_item_total = fields.Integer(allow_none=True, metadata={"description": "PHQ-2 or GAD-2"})
    item9 = fields.Integer(allow_none=True)
    item9_positive = fields.Boolean(allow_none=True, metadata={"description": "PHQ-9 only; null if unanswered"})
    safety = fields.String(allow_none=True, metadata={"description": "PHQ-9: positive, negative or unknown"})
    completed_at = fields.AwareDateTime(required=True)
    days_since_previous = fields.Integer(allow_none=True)
    overlapping_window = fields.Boolean()
    source = fields.String()
    change_from_previous = fields.Integer(allow_none=True)
    meaningful_change = fields.Boolean(allow_none=True)
    is_baseline = fields.Boolean()
    baseline_total = fields.Integer(allow_none=True)
    response = fields.Boolean(allow_none=True, metadata={"description": "PHQ-9: 2 x total <= baseline"})
    remission = fields.Boolean(allow_none=True, metadata={"description": "PHQ-9: total < 5"})
    pct_reduction = fields.Float(allow_none=True)
    # What each instrument reports beyond its total, under the SPEC's names (absent for the others).
    clusters = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "PCL-5: B, C, D and E subtotals"}
    )
    provisional_ptsd = fields.Boolean(metadata={"description": "PCL-5: the provisional DSM-5 symptom pattern"})
    probable_ptsd = fields.Boolean(metadata={"description": "PCL-5: total at or above the screening cut-point"})
    cut_point = fields.Integer(metadata={"description": "PCL-5: the cut-point in force when it was scored"})
    pcl_response = fields.Boolean(metadata={"description": "PCL-5: at least 5 points below baseline"})
    pcl_clinically_meaningful = fields.Boolean(metadata={"description": "PCL-5: at least 10 points below baseline"})
    worsening = fields.Boolean(metadata={"description": "PCL-5: at least 5 points above baseline"})
    change = fields.Integer(metadata={"description": "PCL-5: current - baseline (negative is better)"})
    score = fields.Float(metadata={"description": "PEG: the mean of the three items, one decimal (0.0-10.0)"})
    peg_sum = fields.Integer(metadata={"description": "PEG: the sum of the three items (0-30), the total"})
    peg_improved_30 = fields.Boolean(allow_none=True, metadata={"description": "PEG: at least 30 % below baseline"})
    peg_pct_reduction = fields.Float(allow_none=True, metadata={"description": "PEG: % below baseline"})
    mid_change = fields.Boolean(metadata={"description": "PEG: 1.0 point of the mean from baseline (an MID estimate)"})
    positive = fields.Boolean(metadata={"description": "AUDIT-C: a positive screen at the threshold used"})
    threshold = fields.Integer(metadata={"description": "AUDIT-C: 4 for men, 3 for women and when not recorded"})
    threshold_basis = fields.String(metadata={"description": "AUDIT-C: male, female or default-lower"})
    skipped = fields.Boolean(metadata={"description": "AUDIT-C: items 2 and 3 not asked after Never (stored as 0)"})
    all_points_from_item1 = fields.Boolean(metadata={"description": "AUDIT-C: AUDC-R6's note for the clinician"})
    crisis = fields.Nested(
        CrisisResourcesSchema,
        allow_none=True,
        metadata={"description": "Set when item 9 calls for the safety pathway: show these at once (SAFE-R1)."},
    )


class BaselineSchema(StrictSchema):
    assessment_id = fields.Integer(required=True, strict=True, validate=validate.Range(1, 2**31 - 1))


class AlertOutSchema(Schema):
    id = fields.Integer(required=True)
    patient_id = fields.Integer(required=True)
    patient_phone = fields.Function(
        lambda alert: alert.patient.phone,
        allow_none=True,
        metadata={"description": "How to reach the patient: their phone in E.164, or null if none is recorded."},
    )
    emergency_contact = fields.Function(
        lambda alert: emergency_contact(alert.patient),
        allow_none=True,
        metadata={"description": "The patient's emergency contact {name, phone}, or null."},
    )
    kind = fields.String(required=True)
    severity = fields.String(required=True)
    reason = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    assessment_id = fields.Integer(allow_none=True)
    escalated_at = fields.AwareDateTime(allow_none=True)
    acknowledged_at = fields.AwareDateTime(allow_none=True)
    acknowledged_by_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)


class AlertQuerySchema(StrictSchema):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "all"]))


class AcknowledgeSchema(StrictSchema):
    note = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000, error="Write a note of 1 to 2000 characters."),
        error_messages={"required": "Say what you did or decided, for the record."},
    )


def _setting_number(low: int, high: int, what: str) -> fields.Integer:
    message = f"Give {what} from {low} to {high}."
    return fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(low, high, error=message),
        error_messages={"required": message, "invalid": "Give a whole number."},
    )


class TrimmedString(fields.String):
    """Text with surrounding spaces removed, so that "   " counts as empty."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


PHONE_CHARACTERS = "Use digits, spaces, +, ( ) and - only, with at least one digit."
PHONE = validate.Regexp(r"^(?=.*\d)[0-9+() -]{1,32}$", error=PHONE_CHARACTERS)
FILL_IN = "Fill this in."


def _phone(required: bool) -> TrimmedString:
    # SAFE-R1/R2: a crisis number must be something a phone can dial; the clinic's own may be left empty.
    return TrimmedString(
        required=True,
        validate=PHONE if required else validate.Regexp(r"^$|^(?=.*\d)[0-9+() -]{1,32}$", error=PHONE_CHARACTERS),
        error_messages={"required": FILL_IN},
    )


def _text(maximum: int) -> TrimmedString:
    return TrimmedString(
        required=True,
        validate=validate.Length(min=1, max=maximum, error=f"Fill this in, in at most {maximum} characters."),
        error_messages={"required": FILL_IN},
    )


def _optional_text(maximum: int) -> TrimmedString:
    """Words a clinic may leave empty (its words in Spanish): left out of the form or the request, unchanged."""
    return TrimmedString(validate=validate.Length(max=maximum, error=f"Use at most {maximum} characters."))


class DefaultOrBoolean(fields.Field):
    """A setting that may follow the deployment's default: the form's ``default``, ``yes`` or ``no`` as None,
    True or False."""

    CHOICES = {"default": None, "yes": True, "no": False}

    def _deserialize(self, value, attr, data, **kwargs):
        if value not in self.CHOICES:
            raise ValidationError("Choose one of the options.")
        return self.CHOICES[value]


class _OptionalNumber(fields.Integer):
    """A whole number a form may leave empty: the empty box is None (a rule not used)."""

    def deserialize(self, value, attr=None, data=None, **kwargs):
        return super().deserialize(None if value == "" else value, attr, data, **kwargs)


def _schedule_number(group: str, rule: str) -> fields.Integer:
    """A schedule field of the clinic settings page, within journal/schedules.py's limits for its group."""
    limits = schedules.LIMITS[group]
    low, high = {
        "every_days": limits.every,
        "days_after_session": schedules.AFTER_SESSION,
        "days_before_session": schedules.BEFORE_SESSION,
        "min_gap_days": limits.min_gap,
    }[rule]
    if rule == "min_gap_days":
        return _setting_number(low, high, "the minimum gap in days")
    message = f"Give a number of days from {low} to {high}, or leave it empty."
    return _OptionalNumber(
        required=True,
        strict=True,
        allow_none=True,
        validate=validate.Range(low, high, error=message),
        error_messages={"required": message, "invalid": "Give a whole number."},
    )


class ClinicSettingsSchema(StrictSchema):
    """The clinic's crisis numbers (SAFE-R1, reviewed at each release: SAFE-R2), cadence and alert thresholds, the
    questionnaire schedules (journal/schedules.py), the follow-up reminder (EMA-R2), the PHQ-8 in place of the
    PHQ-9 (SAFE-R4) and the PCL-5 cut-point (PCL-R6)."""

    crisis_call_number = _phone(required=True)
    crisis_text_number = _phone(required=True)
    emergency_number = _phone(required=True)
    clinic_phone = _phone(required=False)
    clinic_hours = _text(200)
    review_promise = _text(300)
    note_review_promise = _text(300)  # what the check-in's note field promises: who reads notes and when
    # The three above in Spanish, for Spanish-speaking patients; empty: they read the English, marked as such.
    clinic_hours_es = _optional_text(200)
    review_promise_es = _optional_text(300)
    note_review_promise_es = _optional_text(300)
    standard_drink = _text(200)  # AUDC-R2: shown with the AUDIT-C
    assessment_interval_days = _setting_number(7, 90, "the days between questionnaires")  # never under 7 (SPEC 1.10)
    weekly_during_induction = StrictBoolean(required=True)
    check_window_hours = _setting_number(12, 14 * 24, "the hours a post-session check stays open")
    escalation_minutes = _setting_number(5, 24 * 60, "the minutes before escalation")
    craving_threshold = _setting_number(1, 10, "the craving threshold")
    craving_days = _setting_number(1, 14, "the number of days")
    abstinent_run_days = _setting_number(1, 90, "the number of abstinent days")
    booster_review_points = _setting_number(1, 27, "the number of points")
    urinary_alert_severity = fields.String(required=True, validate=validate.OneOf(["high", "medium", "low"]))
    require_staff_mfa = DefaultOrBoolean()  # left out: unchanged
    depression_instrument = fields.String(
        required=True,
        validate=validate.OneOf(["phq9", "phq8"], error="Choose the PHQ-9 or the PHQ-8."),
        error_messages={"required": "Choose the PHQ-9 or the PHQ-8."},
    )
    pcl5_cut_point = fields.Integer(
        required=True,
        strict=True,
        validate=validate.OneOf([31, 32, 33], error="Choose 31, 32 or 33."),
        error_messages={"required": "Choose 31, 32 or 33.", "invalid": "Choose 31, 32 or 33."},
    )
    follow_up_minutes = _OptionalNumber(
        required=True,
        strict=True,
        allow_none=True,
        validate=validate.Range(30, 180, error="Give the minutes from 30 to 180, or leave it empty for none."),
        error_messages={"required": "Give the minutes from 30 to 180, or leave it empty for none."},
    )
    depression_days_after_session = _schedule_number("depression", "days_after_session")
    depression_days_before_session = _schedule_number("depression", "days_before_session")
    depression_min_gap_days = _schedule_number("depression", "min_gap_days")
    gad7_days_after_session = _schedule_number("gad7", "days_after_session")
    gad7_days_before_session = _schedule_number("gad7", "days_before_session")
    gad7_min_gap_days = _schedule_number("gad7", "min_gap_days")
    pcl5_every_days = _schedule_number("pcl5", "every_days")
    pcl5_days_after_session = _schedule_number("pcl5", "days_after_session")
    pcl5_days_before_session = _schedule_number("pcl5", "days_before_session")
    pcl5_min_gap_days = _schedule_number("pcl5", "min_gap_days")
    peg_every_days = _schedule_number("peg", "every_days")
    peg_days_after_session = _schedule_number("peg", "days_after_session")
    peg_days_before_session = _schedule_number("peg", "days_before_session")
    peg_min_gap_days = _schedule_number("peg", "min_gap_days")
    auditc_every_days = _schedule_number("auditc", "every_days")
    auditc_days_after_session = _schedule_number("auditc", "days_after_session")
    auditc_days_before_session = _schedule_number("auditc", "days_before_session")
    auditc_min_gap_days = _schedule_number("auditc", "min_gap_days")

    @validates_schema
    def _never_due_inside_the_gap(self, data, **_kwargs):
        """An interval shorter than the minimum gap could never be kept: say so where the admin can fix it."""
        errors = {}
        interval = data.get("assessment_interval_days")
        for group in ("depression", "gad7"):
            gap = data.get(f"{group}_min_gap_days")
            if interval is not None and gap is not None and gap > interval:
                errors[f"{group}_min_gap_days"] = [
                    f"Give at most the days between questionnaires ({interval}), or lengthen those."
                ]
        for group in ("pcl5", "peg", "auditc"):
            every, gap = data.get(f"{group}_every_days"), data.get(f"{group}_min_gap_days")
            if every is not None and gap is not None and every < gap:
                errors[f"{group}_every_days"] = [f"Give at least the minimum gap ({gap} days), or leave it empty."]
        if errors:
            raise ValidationError(errors)


# --- Treatment sessions (SPEC 7.1, 7.4; KET-R1) ------------------------------------------------------------------


def _measure(low: int, high: int, what: str, description: str = "") -> fields.Integer:
    return fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.Range(low, high, error=f"Give {what} from {low} to {high}."),
        metadata={"description": description} if description else {},
    )


SEDATION_HELP = "MOAA/S when the patient is assessed for discharge: " + "; ".join(
    f"{score} {meaning}" for score, meaning in SEDATION_SCALE.items()
)


def _reading_time(description: str) -> fields.AwareDateTime:
    return fields.AwareDateTime(load_default=None, allow_none=True, metadata={"description": description})


_HOURS = {"pre": PRE_READING_WINDOW.total_seconds() / 3600, "post": POST_READING_WINDOW.total_seconds() / 3600}
CONCOMITANT_HELP = (
    "The REMS form's question on medication that may cause sedation or blood-pressure changes: true or false for "
    "each class, null (or left out) when not recorded."
)


def _yes_no_or_unknown(description: str) -> StrictBoolean:
    return StrictBoolean(load_default=None, allow_none=True, metadata={"description": description})


class ConcomitantClassesSchema(StrictSchema):
    """Whether the patient takes each class of medication the REMS monitoring form asks about (SPEC 7.4)."""

    benzodiazepines = _yes_no_or_unknown(CONCOMITANT_CLASSES["benzodiazepines"])
    sedative_hypnotics = _yes_no_or_unknown(CONCOMITANT_CLASSES["sedative_hypnotics"])
    psychostimulants = _yes_no_or_unknown(CONCOMITANT_CLASSES["psychostimulants"])
    maois = _yes_no_or_unknown(CONCOMITANT_CLASSES["maois"])
    opioids = _yes_no_or_unknown(CONCOMITANT_CLASSES["opioids"])


class DosingSessionSchema(StrictSchema):
    """POST /api/v1/patients/{id}/sessions: a session, planned or given, with the at-session measures."""

    start = fields.AwareDateTime(required=True, metadata={"description": "When dosing starts (with offset)."})
    status = fields.String(required=True, validate=validate.OneOf(["planned", "given", "cancelled"]))
    route = fields.String(required=True, validate=validate.OneOf(["iv", "im", "intranasal", "oral", "sublingual"]))
    product = TrimmedString(
        required=True,
        validate=validate.Length(min=1, max=120, error="Name the product, in at most 120 characters."),
        metadata={"description": "e.g. racemic ketamine, esketamine (Spravato)"},
    )
    dose = fields.Float(
        required=True,
        allow_nan=False,
        validate=validate.Range(min=0, min_inclusive=False, max=2000, error="Give a dose above 0 and up to 2000."),
    )
    dose_unit = fields.String(required=True, validate=validate.OneOf(["mg", "mg/kg", "mcg"]))
    weight_kg = fields.Float(
        load_default=None, allow_none=True, allow_nan=False, validate=validate.Range(20, 400, error="20 to 400 kg.")
    )
    setting = fields.String(load_default="clinic", validate=validate.OneOf(["clinic", "home"]))
    course = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(["induction", "maintenance"]),
        metadata={"description": "The course the session belongs to; opened if the patient has none open."},
    )
    bp_systolic_pre = _measure(60, 260, "the systolic pressure")
    bp_diastolic_pre = _measure(30, 160, "the diastolic pressure")
    heart_rate_pre = _measure(30, 220, "the heart rate")
    bp_systolic_post = _measure(60, 260, "the systolic pressure")
    bp_diastolic_post = _measure(30, 160, "the diastolic pressure")
    heart_rate_post = _measure(30, 220, "the heart rate")
    dissociation_score = _measure(0, 92, "the CADSS total")  # 23 items scored 0-4
    observation_minutes = _measure(0, 24 * 60, "the observation time in minutes")
    discharge_at = fields.AwareDateTime(load_default=None, allow_none=True)
    # The rest of the at-session record (SPEC 7.4, KET-R8: what the esketamine REMS monitoring form asks).
    # SpO2 under 50 % is not a reading a pulse oximeter gives reliably, so such a number is taken as a typing slip.
    spo2_pre = _measure(50, 100, "the oxygen saturation in %", "SpO2 before dosing, in %.")
    spo2_post = _measure(50, 100, "the oxygen saturation in %", "SpO2 after dosing (lowest reading), in %.")
    sedation = _measure(0, 5, "the MOAA/S score", SEDATION_HELP)
    bp_systolic_discharge = _measure(60, 260, "the systolic pressure", "Before the end of the session.")
    bp_diastolic_discharge = _measure(30, 160, "the diastolic pressure")
    heart_rate_discharge = _measure(30, 220, "the heart rate")
    ready_to_leave_minutes = _measure(
        0, 24 * 60, "the minutes", "Minutes from the start of dosing at which the patient would have been ready to "
        "leave if there were no 2-hour minimum (the REMS evaluation question).",
    )  # fmt: skip
    lot_number = TrimmedString(
        load_default="",
        validate=validate.Regexp(
            r"^[A-Za-z0-9][A-Za-z0-9 ./-]{0,39}$|^$",
            error="Give the lot number as printed: letters, digits, spaces, dots, slashes and dashes, at most 40.",
        ),
        metadata={"description": "The product's lot number, as printed on the package."},
    )
    transport_arranged = StrictBoolean(
        load_default=None,
        allow_none=True,
        metadata={"description": "Checked before dosing: the patient has a way home other than driving themselves."},
    )
    escort = TrimmedString(
        load_default="",
        validate=validate.Length(max=120, error="Keep this under 120 characters."),
        metadata={
            "description": "Who takes the patient home (a name, and a phone number if the clinic's policy asks): "
            "another person's data, shown to staff only and never put in a message."
        },
    )
    # When the SpO2 and sedation readings were taken (SPEC 7.4: time-stamped), each with its reading.
    spo2_pre_at = _reading_time(
        f"When the SpO2 before dosing was read (with offset): at or before the start, at most {_HOURS['pre']:g} "
        "hours before it."
    )
    spo2_post_at = _reading_time(
        f"When the lowest SpO2 after dosing was read (with offset): from the start, at most {_HOURS['post']:g} hours "
        "after it and not after the discharge."
    )
    sedation_at = _reading_time(
        f"When the sedation score was taken (with offset): from the start, at most {_HOURS['post']:g} hours after "
        "it and not after the discharge."
    )
    concomitant_classes = fields.Nested(
        ConcomitantClassesSchema, load_default=None, allow_none=True, metadata={"description": CONCOMITANT_HELP}
    )
    concomitant_medication = TrimmedString(
        load_default="",
        validate=validate.Length(max=500, error="Keep this under 500 characters."),
        metadata={"description": "Medication relevant to the session (names and doses), as the clinician writes it."},
    )
    monitored_by_id = fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        # An id no row can have is refused here, in the same words as one not on the care team.
        validate=validate.Range(1, 2**31 - 1, error=NOT_A_MONITOR),
        metadata={
            "description": "The clinician who monitored the patient: one of the patient's care team (their ids are "
            "in GET /patients/{id}, care_team); not necessarily the one who enters the record."
        },
    )
    notes = fields.String(
        load_default="", validate=validate.Length(max=2000, error="Keep notes under 2000 characters.")
    )

    @validates_schema
    def _readings_at_their_times(self, data, **_kwargs):
        problems = reading_time_problems(data)
        if problems:
            raise ValidationError({field: [message] for field, message in problems.items()})

    @validates_schema
    def _pressures_in_pairs(self, data, **_kwargs):
        for when in ("pre", "post", "discharge"):
            if (data.get(f"bp_systolic_{when}") is None) != (data.get(f"bp_diastolic_{when}") is None):
                raise ValidationError("Give both the systolic and the diastolic pressure.", f"bp_diastolic_{when}")
            systolic, diastolic = data.get(f"bp_systolic_{when}"), data.get(f"bp_diastolic_{when}")
            if systolic is not None and diastolic >= systolic:
                raise ValidationError("The diastolic pressure must be below the systolic.", f"bp_diastolic_{when}")


class DosingSessionOutSchema(Schema):
    id = fields.Integer(required=True)
    patient_id = fields.Integer(required=True)
    start = fields.AwareDateTime(required=True)
    status = fields.String(required=True)
    route = fields.String(required=True)
    product = fields.String(required=True)
    dose = fields.Float(required=True)
    dose_unit = fields.String(required=True)
    dose_mg_per_kg = fields.Float(allow_none=True)
    weight_kg = fields.Float(allow_none=True)
    setting = fields.String()
    course = fields.Function(lambda s: s.course.kind.value if s.course else None, allow_none=True)
    course_id = fields.Integer(allow_none=True)
    bp_systolic_pre = fields.Integer(allow_none=True)
    bp_diastolic_pre = fields.Integer(allow_none=True)
    heart_rate_pre = fields.Integer(allow_none=True)
    bp_systolic_post = fields.Integer(allow_none=True)
    bp_diastolic_post = fields.Integer(allow_none=True)
    heart_rate_post = fields.Integer(allow_none=True)
    dissociation_score = fields.Integer(allow_none=True)
    observation_minutes = fields.Integer(allow_none=True)
    discharge_at = fields.AwareDateTime(allow_none=True)
    spo2_pre = fields.Integer(allow_none=True)
    spo2_post = fields.Integer(allow_none=True)
    sedation = fields.Integer(allow_none=True)
    bp_systolic_discharge = fields.Integer(allow_none=True)
    bp_diastolic_discharge = fields.Integer(allow_none=True)
    heart_rate_discharge = fields.Integer(allow_none=True)
    ready_to_leave_minutes = fields.Integer(allow_none=True)
    lot_number = fields.String()
    transport_arranged = fields.Boolean(allow_none=True)
    escort = fields.String()
    spo2_pre_at = fields.AwareDateTime(allow_none=True)
    spo2_post_at = fields.AwareDateTime(allow_none=True)
    sedation_at = fields.AwareDateTime(allow_none=True)
    concomitant_classes = fields.Function(
        lambda s: concomitant_answers(s.concomitant_classes),
        metadata={
            "description": "Each class of the REMS form's medication question: true, false, or null when not recorded.",
            "type": "object",
            "properties": {key: {"type": "boolean", "nullable": True} for key in CONCOMITANT_CLASSES},
            "required": list(CONCOMITANT_CLASSES),
            "additionalProperties": False,
        },
    )
    concomitant_medication = fields.String()
    monitored_by_id = fields.Integer(allow_none=True)
    monitored_by = fields.Nested(
        ClinicianRefSchema, allow_none=True, metadata={"description": "The clinician who monitored the patient."}
    )
    notes = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    warnings = fields.Function(
        lambda s: vitals_warnings(s),
        metadata={
            "description": "Measures that call for a second look (SPEC 7.4), each {field, message}: saved all the "
            "same, as the clinician entered them.",
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    )


class SideEffectCheckSchema(StrictSchema):
    """KET-R3, the check the morning after a session and at 72 hours: each item 0-10 and optional (the keys are
    those of ``checkins.SIDE_EFFECTS``); whether the patient drove or worked machinery that day must be answered.
    Skipping the whole check is not an answer; the page stores it as skipped without this schema."""

    dissociation = _zero_to_ten(load_default=None, allow_none=True)
    perception = _zero_to_ten(load_default=None, allow_none=True)
    nausea = _zero_to_ten(load_default=None, allow_none=True)
    dizziness = _zero_to_ten(load_default=None, allow_none=True)
    headache = _zero_to_ten(load_default=None, allow_none=True)
    sleepiness = _zero_to_ten(load_default=None, allow_none=True)
    confusion = _zero_to_ten(load_default=None, allow_none=True)
    anxiety = _zero_to_ten(load_default=None, allow_none=True)
    low_mood = _zero_to_ten(load_default=None, allow_none=True)
    drove = fields.Boolean(
        required=True,
        truthy={True},
        falsy={False},
        error_messages={"required": ANSWER_YES_OR_NO, "null": ANSWER_YES_OR_NO, "invalid": ANSWER_YES_OR_NO},
    )


# --- Multi-factor sign-in (journal/mfa.py) ----------------------------------------------------------------


class OtpSchema(StrictSchema):
    otp = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64, error="Enter the code."),
        error_messages={"required": "Enter the code."},
        metadata={"description": "The 6-digit code from the authenticator app (or, signing in, a recovery code)."},
    )


class MfaStartSchema(StrictSchema):
    restart = StrictBoolean(
        load_default=False,
        metadata={"description": "true: a new secret, replacing one given earlier and not yet confirmed."},
    )


class MfaEnrolmentSchema(Schema):
    secret = fields.String(required=True, metadata={"description": "The shared secret (base32), for typing in."})
    otpauth_uri = fields.String(required=True, metadata={"description": "The otpauth:// URI a QR code carries."})


class RecoveryCodesSchema(Schema):
    recovery_codes = fields.List(
        fields.String(), required=True, metadata={"description": "Ten single-use codes; shown only this once."}
    )


ERROR_REASONS = ["otp_required", "otp_invalid", "mfa_enrolment_required"]


class ErrorSchema(Schema):
    """The API's error body (journal/errors.py ``json_error``), for the document only."""

    code = fields.Raw(
        required=True,
        metadata={
            "description": "The HTTP status; or, where the client must do something particular, a word naming it.",
            "oneOf": [{"type": "integer"}, {"type": "string", "enum": ERROR_REASONS}],
        },
    )
    status = fields.String(metadata={"description": "The HTTP status's name"})
    message = fields.String(metadata={"description": "What went wrong, for a person"})
    errors = fields.Dict(metadata={"description": "Field errors, by location and field"})


# --- Passwords: reset by e-mail, change (journal/accounts.py) ------------------------------------------------


class PasswordResetRequestSchema(StrictSchema):
    # The forgotten-password page shows these before sign-in, in the browser's language: marked for translation.
    email = fields.Email(
        required=True,
        validate=validate.Length(max=254, error=N_("Not a valid email address.")),
        error_messages={
            "required": N_("Enter the e-mail address you sign in with."),
            "invalid": N_("Not a valid email address."),
        },
    )


class PasswordResetRequestedSchema(Schema):
    message = fields.String(
        required=True, metadata={"description": "The same words whether or not the address has an account."}
    )


class PasswordChangeSchema(StrictSchema):
    current_password = fields.String(
        required=True,
        validate=validate.Length(min=1, max=256, error=N_("Enter your current password.")),
        error_messages={"required": N_("Enter your current password.")},
    )
    new_password = PasswordField()


# --- People: contact details, time zone and programme (journal/people.py) -----------------------------------

DETAIL_FORM_BOXES = ("tracks_pain", "sleep_detail", "urinary_check")


def details_form_input(form: MultiDict, *, care_team: bool) -> dict:
    """The details form as MeUpdateSchema (the patient's page) or PatientUpdateSchema (the care team's) input.
    Every field of the page is sent, so each is set: an empty phone removes it, an unticked box is false."""
    data: dict = {
        "timezone": form.get("timezone", ""),
        "phone": form.get("phone", ""),
        "emergency_contact": {
            "name": form.get("emergency_contact_name", ""),
            "phone": form.get("emergency_contact_phone", ""),
        },
    }
    if "language" in form:  # both pages have it; left out (an older form) leaves the language as it is
        data["language"] = form["language"]
    if care_team:
        data["sex"] = form.get("sex", "")
        data["indications"] = form.getlist("indications")
        data["substances"] = form.getlist("substances")
        data.update({name: name in form for name in DETAIL_FORM_BOXES})
        data["induction_until"] = (form.get("induction_until") or "").strip() or None
        data["birth_date"] = (form.get("birth_date") or "").strip() or None
        # A choice of yes, no or not recorded (a tick box would say "no" when nobody asked).
        enrolled = (form.get("rems_enrolled") or "").strip()
        data["rems_enrolled"] = {"yes": True, "no": False}.get(enrolled, enrolled) if enrolled else None
    return data


def flat_errors(messages: dict) -> dict[str, list[str]]:
    """Schema errors keyed by the form's field names: the emergency contact's as ``emergency_contact_name`` and
    ``emergency_contact_phone``, a list's item errors under the list's name."""
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        if key == "emergency_contact" and isinstance(value, dict):
            for member, member_messages in value.items():
                flat[f"{key}_{member}"] = _messages(member_messages)
        else:
            flat[key] = _messages(value)
    return flat


def _messages(value) -> list[str]:
    if isinstance(value, dict):
        return [message for inner in value.values() for message in _messages(inner)]
    if isinstance(value, list):
        return [message for inner in value for message in _messages(inner)]
    return [value if isinstance(value, str) else str(value)]  # a Wording stays one, to be translated
