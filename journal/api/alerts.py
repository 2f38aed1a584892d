"""Alerts for clinicians: the open ones about their patients, and acknowledging one with a note."""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint, abort
from marshmallow import RAISE
from sqlalchemy.orm import selectinload

from .. import audit
from ..access import alert_in_path_required, alerts_for, get_alert_or_404, open_alerts_for
from ..alerts import AlertError, acknowledge
from ..db import db, utcnow
from ..models import Alert, Role
from ..schemas import AcknowledgeSchema, AlertOutSchema, AlertQuerySchema
from ..security import roles_required

blp = Blueprint("api_alerts", __name__, url_prefix="/api/v1/alerts", description="Alerts for the care team")

LIST_LIMIT = 500


@blp.route("", methods=["GET"])
@roles_required(Role.CLINICIAN)
@blp.arguments(AlertQuerySchema, location="query", unknown=RAISE)
@blp.response(200, AlertOutSchema(many=True))
def list_alerts(args):
    """Alerts about the caller's patients: the open ones by severity then age (``status=open``, the
    default), or every alert, newest first (``status=all``, at most 500); each with the patient's phone and
    emergency contact, to reach them."""
    audit.record(current_user, "alert.list", detail=args["status"])
    db.session.commit()
    if args["status"] == "open":
        query = open_alerts_for(current_user)
    else:
        query = alerts_for(current_user).order_by(Alert.created_at.desc(), Alert.id.desc())
    # The patients' phones come in one more statement, not one per alert.
    return db.session.scalars(query.options(selectinload(Alert.patient)).limit(LIST_LIMIT)).all()


@blp.route("/<id:alert_id>/ack", methods=["POST"])
@roles_required(Role.CLINICIAN)
@alert_in_path_required
@blp.arguments(AcknowledgeSchema)
@blp.response(200, AlertOutSchema)
def acknowledge_alert(data, alert_id: int):
    """Acknowledge an alert with a note of what was done; stops its escalation. Only the first counts (409)."""
    alert = get_alert_or_404(current_user, alert_id)
    try:
        acknowledge(db.session, alert, current_user, data["note"], utcnow())
    except AlertError as error:
        db.session.rollback()
        abort(error.status, message=error.message, errors={"json": {error.field: [error.message]}})
    audit.record(current_user, "alert.ack", alert.patient_id, detail=f"alert {alert.id}")
    db.session.commit()
    return alert
