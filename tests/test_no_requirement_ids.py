"""No requirement id (``SAFE-R1``, ``KET-R2``, ``PHQ-R9``...) in what a page shows.

The ids name rules of the clinical reference (docs/clinical/SPEC.md); they belong in code comments, docstrings
and tests, never in front of a patient or a clinician. Every GET route in the app is rendered for each kind of
caller its access policy admits, over the demo clinic so that lists, alerts and tables are not empty, and the
visible text (no tags, scripts, styles, attributes or comments) must hold no id.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

from sqlalchemy import select

from journal.db import db, utcnow
from journal.demo import demo_email, patient_email, seed_demo
from journal.models import Alert, Assessment, DosingSession, User
from tests.conftest import AuthActions
from tests.test_access_matrix import POLICY

REQUIREMENT_ID = re.compile(r"\b[A-Z]+-R\d+\b")


class _VisibleText(HTMLParser):
    """Text a reader sees: character data outside <script> and <style>; comments and attributes are dropped."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


def test_visible_text_keeps_words_and_drops_markup_comments_and_scripts():
    html = '<p title="KET-R1">Dose <!-- SAFE-R3 --><script>"PHQ-R9"</script><b>given</b> (MOOD-R1)</p>'
    assert REQUIREMENT_ID.findall(visible_text(html)) == ["MOOD-R1"]
    assert "Dose" in visible_text(html) and "given" in visible_text(html)


def _users() -> dict[str, User]:
    by_email = {u.email: u for u in db.session.scalars(select(User))}
    return {
        # the first of Dr Okafor's patients (01-08) with an alert, so that alert pages have one to show
        "patient": next(
            by_email[patient_email(n)]
            for n in range(1, 9)
            if db.session.scalar(select(Alert.id).where(Alert.patient_id == by_email[patient_email(n)].id).limit(1))
        ),
        "clinician": by_email[demo_email("clinician")],
        "admin": by_email[demo_email("admin")],
    }


def _concrete(path: str, users: dict[str, User]) -> str:
    pat = users["patient"]
    alert = db.session.scalars(select(Alert).where(Alert.patient_id == pat.id).order_by(Alert.id.desc())).first()
    form = db.session.scalars(select(Assessment).where(Assessment.patient_id == pat.id)).first()
    session = db.session.scalars(select(DosingSession).where(DosingSession.patient_id == pat.id)).first()
    return (
        path.replace("<id:patient_id>", str(pat.id))
        .replace("<id:user_id>", str(users["clinician"].id))
        .replace("<id:alert_id>", str(alert.id))
        .replace("<id:assessment_id>", str(form.id))
        .replace("<id:session_id>", str(session.id))
        .replace("<any(phq9,phq8,gad7,pcl5,peg,auditc):instrument>", "phq9")
        .replace("<any(morning_after,72h):kind>", "72h")
        .replace("<day>", (utcnow() - timedelta(days=1)).date().isoformat())
    )


def test_no_page_shows_a_requirement_id(app):
    seed_demo(db.session, "demo password 1", utcnow())
    db.session.commit()
    users = _users()
    seen: dict[str, list[str]] = {}
    rendered = 0
    for (method, route), callers in sorted(POLICY.items()):
        if method != "GET" or route.startswith("/api/") or "<token>" in route or "<any(outcomes" in route:
            continue
        for caller in ("anonymous", "patient", "clinician", "admin"):
            if caller not in callers:
                continue
            client = app.test_client()
            if caller != "anonymous":
                assert AuthActions(client).login(users[caller], password="demo password 1").status_code == 302
            response = client.get(_concrete(route, users))
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            rendered += 1
            found = REQUIREMENT_ID.findall(visible_text(response.get_data(as_text=True)))
            if found:
                seen[f"{caller} {route}"] = sorted(set(found))
    assert rendered >= 25
    assert seen == {}
