"""Settings: the patient's daily reminders and this device's notifications; everyone's password."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from .. import audit, sms
from ..accounts import PasswordRejected, change_password
from ..channels import PushEndpointRefused, PushEndpoints, vapid_public_key
from ..config import texts_available
from ..db import commit_retrying_on_conflict, db, utcnow
from ..i18n import request_language
from ..models import Role
from ..reminders import (
    as_document,
    device_count,
    problems,
    save_push_subscription,
    settings_for,
    update_settings,
    zone_label,
)
from ..schemas import (
    PasswordChangeSchema,
    PushSubscriptionSchema,
    ReminderSettingsSchema,
    flat_messages,
    form_input,
    reminder_form_input,
)
from ..security import client_address, limiter, login_rate_limit, per_account, roles_required
from ..wording import N_

bp = Blueprint("settings", __name__, url_prefix="/settings")


def push_limits() -> dict:
    """Which push services a subscription may name, and how many devices a patient keeps (the settings)."""
    config = current_app.config
    return {
        "endpoints": PushEndpoints.from_config(config),
        "per_patient": int(config["PUSH_SUBSCRIPTIONS_PER_PATIENT"]),
    }


def _push_public_key() -> str | None:
    config = current_app.config
    if not config.get("VAPID_PRIVATE_KEY"):
        return None
    return vapid_public_key(config["VAPID_PRIVATE_KEY"])


@bp.route("/reminders", methods=["GET", "POST"])
@roles_required(Role.PATIENT)
def reminders():
    errors: dict = {}
    values = as_document(settings_for(db.session, current_user))
    if request.method == "POST":
        values = reminder_form_input(request.form)
        try:
            loaded = ReminderSettingsSchema().load(values)
        except ValidationError as error:
            # One message list per field: a list field's errors come by item ({0: [...]}), which the page does
            # not name.
            errors = {field: flat_messages(found) for field, found in error.messages.items()}
        else:
            agreed = sms.consented_number(db.session, current_user) is not None
            errors = problems(loaded, device_count(db.session, current_user), agreed, request_language())
        if not errors:
            # Two first saves at once both insert the patient's row: the second is then made again as a change.
            commit_retrying_on_conflict(db.session, lambda: update_settings(db.session, current_user, loaded))
            flash(N_("Reminder settings saved."), "success")
            return redirect(url_for("settings.reminders"))
    return render_template(
        "patient/reminders.html",
        values=values,
        errors=errors,
        push_key=_push_public_key(),
        zone=zone_label(current_user.timezone, utcnow()),
        texts=_texts_state(),
    ), 400 if errors else 200


def _texts_state() -> dict:
    """What the page's "Text messages" part shows: the consent in force, or the words to agree to."""
    from ..api.accounts import sms_consent_state

    state = sms_consent_state(current_user)
    # Words agreed to in another language than the page's now (the patient switched since) are marked as such.
    words_language = sms.words_language(state["words"]) if state["words"] else None
    return {**state, "words_language": words_language, "available": texts_available(current_app.config)}


@bp.post("/sms-consent")
@roles_required(Role.PATIENT)
def sms_consent():
    """The opt-in: the patient ticks the box under the words shown and agrees."""
    if request.form.get("agree") != "yes":
        flash(sms.NOT_AGREED, "error")
        return redirect(url_for("settings.reminders", _anchor="texts"))
    if not texts_available(current_app.config):
        flash(N_("Text messages are not available yet."), "error")
        return redirect(url_for("settings.reminders", _anchor="texts"))
    try:
        sms.agree(db.session, current_user, utcnow(), sender=current_app.config["SMS_SENDER_NAME"], via="app")
    except sms.ConsentError as error:
        flash(error.message, "error")
    else:
        flash(
            N_("Texts are on: a text confirming it is on its way. Choose “Text message” above to get reminders."),
            "success",
        )
    return redirect(url_for("settings.reminders", _anchor="texts"))


@bp.post("/sms-consent/withdraw")
@roles_required(Role.PATIENT)
def sms_consent_withdraw():
    sms.withdraw(db.session, [current_user.id], utcnow(), via="app")
    db.session.commit()
    flash(N_("Texts are off: no more text messages will be sent."), "success")
    return redirect(url_for("settings.reminders", _anchor="texts"))


@bp.post("/push-subscriptions")
@roles_required(Role.PATIENT)
def push_subscription():
    """Called by the page's script with the browser's subscription (CSRF token in the X-CSRFToken header)."""
    try:
        subscription = PushSubscriptionSchema().load(request.get_json(silent=True) or {})
    except ValidationError as error:
        return {"errors": error.messages}, 422
    try:
        saved = commit_retrying_on_conflict(
            db.session,  # the same device registered twice at once: the second finds the first's row
            lambda: save_push_subscription(
                db.session, current_user, subscription["endpoint"], **subscription["keys"], **push_limits()
            ),
        )
    except PushEndpointRefused as error:
        db.session.rollback()
        return {"errors": {"endpoint": [str(error)]}}, 422
    return {"id": saved.id}, 201


@bp.route("/password", methods=["GET", "POST"])
@login_required
@limiter.limit(login_rate_limit, methods=["POST"])
@limiter.limit(login_rate_limit, methods=["POST"], key_func=per_account)
def password():
    """Change the password, for everyone. Every other device and API token of the account is signed out; this
    browser stays signed in with a fresh session."""
    from .auth import _start_session

    errors: dict = {}
    if request.method == "POST":
        schema = PasswordChangeSchema()
        try:
            data = schema.load(form_input(schema, request.form))
            if request.form.get("new_password_confirm") != data["new_password"]:
                raise ValidationError({"new_password_confirm": [N_("The two new passwords are not the same.")]})
            change_password(
                db.session,
                current_user,
                data["current_password"],
                data["new_password"],
                utcnow(),
                client=client_address(),
            )
        except ValidationError as error:
            errors = error.messages
        except PasswordRejected as error:
            db.session.rollback()
            errors = {error.field: error.messages}
        else:
            user = current_user._get_current_object()
            audit.record_account(user, "password.change", user)
            db.session.commit()
            _start_session(user)
            flash(N_("Your password is changed. Other devices have been signed out."), "success")
            return redirect(url_for("settings.password"))
    return render_template("password_change.html", errors=errors), 400 if errors else 200
