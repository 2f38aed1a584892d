"""The append-only audit trail of staff access to patient data."""

from __future__ import annotations

from flask import has_request_context, request

from .db import db, utcnow
from .models import AuditEvent, User


def record(actor: User | None, action: str, patient_id: int | None = None, detail: str = "") -> AuditEvent:
    """Add an audit event to the current transaction; the caller commits it with the change it describes.

    ``detail`` names what was touched (ids, field names), never health data itself.
    """
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        action=action,
        patient_id=patient_id,
        detail=detail,
        remote_addr=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event
