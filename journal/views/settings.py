"""The patient's settings: daily reminders, and this device's notifications."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from ..channels import vapid_public_key
from ..db import commit_retrying_on_conflict, db
from ..models import Role
from ..reminders import as_document, save_push_subscription, settings_for, update_settings
from ..schemas import PushSubscriptionSchema, ReminderSettingsSchema, reminder_form_input
from ..security import roles_required

bp = Blueprint("settings", __name__, url_prefix="/settings")


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
            errors = error.messages
        else:
            # Two first saves at once both insert the patient's row: the second is then made again as a change.
            commit_retrying_on_conflict(db.session, lambda: update_settings(db.session, current_user, loaded))
            flash("Reminder settings saved.", "success")
            return redirect(url_for("settings.reminders"))
    return render_template(
        "patient/reminders.html", values=values, errors=errors, push_key=_push_public_key()
    ), 400 if errors else 200


@bp.post("/push-subscriptions")
@roles_required(Role.PATIENT)
def push_subscription():
    """Called by the page's script with the browser's subscription (CSRF token in the X-CSRFToken header)."""
    try:
        subscription = PushSubscriptionSchema().load(request.get_json(silent=True) or {})
    except ValidationError as error:
        return {"errors": error.messages}, 422
    saved = commit_retrying_on_conflict(
        db.session,  # the same device registered twice at once: the second finds the first's row
        lambda: save_push_subscription(db.session, current_user, subscription["endpoint"], **subscription["keys"]),
    )
    return {"id": saved.id}, 201
