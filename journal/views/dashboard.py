"""The clinician's triage dashboard, and the clinic overview for clinicians (their patients) and admins (the
whole clinic, in aggregate only)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user

from .. import audit, dashboard, instruments
from ..analytics import ADHERENCE_DAYS, ADHERENCE_TARGET
from ..db import db, utcnow
from ..models import Role
from ..scoring import BAND_LABELS, MCID
from ..security import roles_required
from . import local_time

bp = Blueprint("dashboard", __name__)

# Rows on one page of the triage table. The order is over every patient; a page is what a clinician reads
# before acting, and keeps the page light on a phone (a thousand rows were 1.3 MB of HTML).
PAGE_SIZE = 50


def _common() -> dict:
    return {
        "band_labels": BAND_LABELS,
        "mcid": MCID,
        "usual_baseline": dashboard.USUAL_BASELINE,
        "zone": ZoneInfo(current_user.timezone),
    }


def _overview_names() -> dict:
    # SAFE-R4: the overview counts the clinic's PHQ-9, or the PHQ-8 in its place, and names it.
    return {**_common(), "depression_name": instruments.depression_instrument(current_user.clinic).name}


@bp.get("/clinician/dashboard")
@roles_required(Role.CLINICIAN)
def clinician_dashboard():
    # Audited first: a commit expires loaded rows (the rows here are plain values, but the user is not).
    audit.record(current_user, "patient.list", detail="dashboard")
    db.session.commit()
    search = dashboard.read_search(request.args.get("q"))
    rows = dashboard.triage(db.session, current_user, utcnow(), search)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    details = dashboard.page_details(db.session, shown, utcnow())  # for this page's rows only
    return render_template(
        "clinician/dashboard.html",
        rows=shown,
        pain=details.pain,  # PAIN-R2
        questionnaires=details.questionnaires,
        # The care team's clinic chose the PHQ-9 or the PHQ-8 (SAFE-R4): its rows all carry that choice.
        depression=instruments.ALL[shown[0].depression].name if shown else instruments.PHQ9.name,
        window_days=dashboard.baselines.WINDOW_DAYS,
        total=len(rows),
        first_number=(page - 1) * PAGE_SIZE + 1,
        page=page,
        pages=pages,
        page_size=PAGE_SIZE,
        search=search,
        # The pager keeps the search: a page number alone would show pages of every patient.
        search_args={"q": search.q} if search.active else {},
        # Each row links to patients_url/<id>: one url_for for the table, as a thousand would cost more than
        # the rest of the rows.
        patients_url=url_for("clinician.patients"),
        adherence_days=ADHERENCE_DAYS,
        adherence_target=ADHERENCE_TARGET,
        spark_days=dashboard.SPARK_DAYS,
        local_time=local_time,
        zones=ZoneInfo,  # a patient's zone by its name (ZoneInfo keeps each one it has made)
        **_common(),
    )


@bp.get("/clinician/overview")
@roles_required(Role.CLINICIAN)
def clinician_overview():
    audit.record(current_user, "overview.read", detail="care team")
    db.session.commit()
    figures = dashboard.overview(db.session, dashboard.visible_ids(current_user), utcnow())
    return render_template("clinician/overview.html", overview=figures, **_overview_names())


@bp.get("/admin/overview")
@roles_required(Role.ADMIN)
def admin_overview():
    # Aggregates only, and no count under MIN_CELL: an admin sees no single patient's data.
    audit.record(current_user, "overview.read", detail="clinic")
    db.session.commit()
    figures = dashboard.overview(
        db.session, dashboard.clinic_ids(current_user.clinic_id), utcnow(), min_cell=dashboard.MIN_CELL
    )
    return render_template("admin/overview.html", overview=figures, **_overview_names())
