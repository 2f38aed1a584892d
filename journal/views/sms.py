"""The text-message provider's webhooks (Twilio): replies patients send, and delivery reports.

Outside /api/v1 and exempt from CSRF (Twilio posts them, holding no session); each request must carry a valid
X-Twilio-Signature instead, computed over the journal's configured public URL, or it is refused with 403 before
anything is read or changed.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request

from .. import sms
from ..db import db, utcnow

bp = Blueprint("sms", __name__, url_prefix="/sms")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@bp.before_request
def _signed_by_twilio() -> None:
    signature = request.headers.get("X-Twilio-Signature")
    query = request.query_string.decode("latin-1")
    if not sms.signature_valid(current_app.config, request.path, query, request.form, signature):
        abort(403)


@bp.post("/inbound")
def inbound():
    """A text a patient sent. Answers with empty TwiML: any reply goes through the outbox, so it is sent once
    and its delivery tracked like every other."""
    action = sms.handle_reply(
        db.session, request.form.get("From"), request.form.get("Body"), request.form.get("MessageSid", ""), utcnow()
    )
    db.session.commit()
    current_app.logger.info("text message reply: %s", action)  # what was done, never what was said
    return Response(EMPTY_TWIML, mimetype="text/xml")


@bp.post("/status")
def status():
    """A delivery report: MessageSid, MessageStatus (queued, sent, delivered, undelivered, failed), ErrorCode."""
    message_sid = request.form.get("MessageSid", "")
    status = request.form.get("MessageStatus", "")
    if message_sid and status:
        sms.record_status(db.session, message_sid, status, request.form.get("ErrorCode") or None, utcnow())
        db.session.commit()
    return "", 204
