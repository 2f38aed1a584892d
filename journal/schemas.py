"""marshmallow schemas: the one place input is validated, for the HTML forms and the JSON API alike."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from zoneinfo import available_timezones

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates
from werkzeug.datastructures import MultiDict

from .accounts import MIN_PASSWORD_LENGTH
from .models import SUBSTANCES, Role


@cache
def iana_zones() -> frozenset[str]:
    return frozenset(available_timezones())


class StrictSchema(Schema):
    """Input: unknown fields are refused, and so is text with a NUL character, which PostgreSQL cannot store."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _refuse_nul_characters(self, data, **_kwargs):
        if isinstance(data, Mapping):
            errors = {
                key: ["Remove the NUL character from this text."] for key, value in data.items() if _has_nul(value)
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
        error = "Choose a time zone from the list (an IANA name such as America/New_York)."
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
    def __init__(self, **kwargs):
        super().__init__(
            required=True,
            validate=validate.Length(
                min=MIN_PASSWORD_LENGTH,
                max=256,
                error=f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.",
            ),
            **kwargs,
        )


class CredentialsSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class LoginFormSchema(CredentialsSchema):
    next = fields.String(load_default=None)


class PasswordSchema(StrictSchema):
    password = PasswordField()


class PatientEnrolmentSchema(StrictSchema):
    name = _name_field()
    email = fields.Email(required=True, validate=validate.Length(max=254))
    timezone = TimezoneField(required=True)
    substances = fields.List(
        fields.String(validate=validate.OneOf(list(SUBSTANCES), error="Unknown substance.")),
        load_default=list,
        validate=validate.Length(max=len(SUBSTANCES)),
    )
    tracks_pain = StrictBoolean(load_default=False)
    sleep_detail = StrictBoolean(load_default=True)

    @validates("substances")
    def _no_repeats(self, value: list[str], **_kwargs) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("List each substance once.")


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


class MeSchema(Schema):
    id = fields.Integer(required=True)
    role = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    timezone = fields.String(required=True)


class ClinicianRefSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class PatientSchema(Schema):
    id = fields.Integer(required=True, attribute="user_id")
    name = fields.String(required=True, attribute="user.name")
    email = fields.String(required=True, attribute="user.email")
    timezone = fields.String(required=True, attribute="user.timezone")
    substances = fields.List(fields.String(), required=True)
    tracks_pain = fields.Boolean(required=True)
    sleep_detail = fields.Boolean(required=True)
    enrolled_at = fields.AwareDateTime(required=True)
    activated = fields.Function(lambda patient: patient.user.activated_at is not None, required=True)
    care_team = fields.List(fields.Nested(ClinicianRefSchema), attribute="clinicians", required=True)


class EnrolledPatientSchema(PatientSchema):
    invitation_url = fields.String(required=True)


class ActivatedSchema(Schema):
    id = fields.Integer(required=True)
    role = fields.String(required=True)


def form_input(schema: Schema, form: MultiDict) -> dict:
    """An HTML form's fields in the shape the schema expects: lists from repeated fields, unticked boxes as
    false, and the CSRF token left out (it was checked before the view ran)."""
    data: dict = {}
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
        key = field.data_key or name
        if isinstance(field, fields.List):
            data[key] = form.getlist(key)
        elif isinstance(field, fields.Boolean):
            data[key] = key in form
        elif key in form:
            data[key] = _form_value(field, form[key])
    return data


def _form_value(field: fields.Field, value: str):
    # A form sends text; strict integer fields (strict for JSON) take its digits as the number they spell.
    # Anything else is passed on as given, so the field's own validation names the problem.
    if isinstance(field, fields.Integer) and re.fullmatch(r"[+-]?\d{1,9}", value.strip()):
        return int(value)
    return value
