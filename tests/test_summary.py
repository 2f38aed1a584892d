"""GET /api/v1/patients/{id}/summary: adherence, the latest scores, response and remission against the stored
baseline (PHQ-R9), days since the last session, percent days abstinent with its denominator (SUD-R3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from journal.checkins import save_checkin
from journal.db import db, utcnow
from journal.models import AuditEvent
from journal.people import set_programme
from tests.conftest import bearer
from tests.outcome_data import (
    active_since,
    at_local,
    baseline,
    checkin,
    given_session,
    local_today,
    paper_phq9,
)

MISSED = {3, 6, 9, 12}  # days before today without a check-in, out of the 14 that EMA-R4 counts


@pytest.fixture
def pat_course(people):
    """Pat: a baseline PHQ-9 of 18, three induction sessions and a booster ten days ago, a PHQ-9 of 9 since,
    and check-ins on 10 of the last 14 days, one of which reports drinking the day before."""
    pat, alice, now = people.pat, people.alice, utcnow()
    today = local_today(pat, now)
    active_since(pat, now, 60)
    baseline(pat, alice, paper_phq9(pat, alice, at_local(pat, today - timedelta(days=40)), 18), now)
    for days_ago in (35, 33, 31, 10):
        given_session(pat, alice, at_local(pat, today - timedelta(days=days_ago)), now)
    paper_phq9(pat, alice, at_local(pat, today - timedelta(days=5)), 9)
    for days_ago in range(1, 15):
        if days_ago not in MISSED:
            checkin(pat, today - timedelta(days=days_ago), mood=6, used=days_ago == 2)
    db.session.commit()
    return people


def _summary(client, people, who=None):
    return client.get(f"/api/v1/patients/{people.pat.id}/summary", headers=bearer(client, who or people.alice))


def test_summary_reports_baseline_response_remission_adherence_and_days_since_the_last_session(client, pat_course):
    response = _summary(client, pat_course)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["baseline_total"] == 18
    assert (body["response"], body["remission"], body["pct_reduction"]) == (True, False, 50.0)  # PHQ-R9
    assert body["phq9"]["total"] == 9 and body["phq9"]["band"] == "mild"
    assert body["phq9"]["change_from_baseline"] == -9
    assert body["gad7"] is None
    assert (body["adherence_scheduled"], body["adherence_on_time"], body["adherence_backfilled"]) == (14, 10, 0)
    assert body["adherence_pct"] == 71.4  # 10 of 14, EMA-R4
    assert body["days_since_last_session"] == 10
    assert body["next_session"] is None
    # SUD-R3: 9 abstinent of the 10 days with a report; the four missed days are not counted as abstinent.
    assert (body["percent_days_abstinent"], body["abstinence_reported_days"]) == (90.0, 10)
    assert body["baseline_below_usual"] is False
    assert body["consider_booster_review"] is False and body["booster_reasons"] == []
    assert [item["session"] for item in body["durability"]][-1] == (
        local_today(pat_course.pat, utcnow()) - timedelta(days=10)
    ).isoformat()


@pytest.mark.parametrize(
    ("baseline_total", "latest", "response", "remission", "pct"),
    [
        (18, 9, True, False, 50.0),  # exactly 50 % below the baseline is a response (2 x 9 <= 18)
        (17, 9, False, False, 47.1),  # just under 50 % is not
        (18, 5, True, False, 72.2),  # a total of 5 is not remission: remission is under 5
        (18, 4, True, True, 77.8),
    ],
)
def test_phq_r9_response_and_remission_at_their_boundaries_through_the_api(
    client, people, baseline_total, latest, response, remission, pct
):
    pat, alice, now = people.pat, people.alice, utcnow()
    today = local_today(pat, now)
    baseline(pat, alice, paper_phq9(pat, alice, at_local(pat, today - timedelta(days=30)), baseline_total), now)
    paper_phq9(pat, alice, at_local(pat, today - timedelta(days=2)), latest)
    db.session.commit()
    body = _summary(client, people).get_json()
    assert body["baseline_total"] == baseline_total
    assert (body["response"], body["remission"], body["pct_reduction"]) == (response, remission, pct)


def test_response_and_remission_are_null_until_a_phq9_follows_the_baseline(client, people):
    pat, alice, now = people.pat, people.alice, utcnow()
    baseline(pat, alice, paper_phq9(pat, alice, now - timedelta(days=3), 9), now)
    db.session.commit()
    body = _summary(client, people).get_json()
    assert (body["baseline_total"], body["response"], body["remission"]) == (9, None, None)
    assert body["baseline_below_usual"] is True  # SPEC 1.6: the usual definitions assume a baseline of 10+


def test_a_patient_with_no_data_has_an_empty_summary_not_an_error(client, people):
    body = _summary(client, people).get_json()
    assert body["baseline_total"] is None and body["phq9"] is None
    assert body["days_since_last_session"] is None and body["durability"] == []
    assert body["abstinence_reported_days"] == 0 and body["percent_days_abstinent"] is None


def test_reading_the_summary_is_audited(client, people):
    assert _summary(client, people).status_code == 200
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == people.pat.id)).all()
    assert "summary.read" in actions


def test_another_clinician_and_the_patient_get_404_for_the_summary(client, people):
    assert _summary(client, people, people.charlie).status_code == 404
    assert _summary(client, people, people.pat).status_code == 404


def test_sud_r3_each_tracked_substance_has_its_own_percent_days_abstinent_and_heavy_days(client, people):
    """Pat tracks opioids and alcohol (since 30 days ago). Over six check-ins (each about its own day), opioids
    are used on two of six reported days and alcohol, 6 and 3 drinks, on two: the heavy-day threshold while sex
    is not recorded is 4 drinks, so one heavy day."""
    pat, now = people.pat, utcnow()
    today = local_today(pat, now)
    active_since(pat, now, 30)
    set_programme(
        db.session, pat.patient, {"substances": ["opioids", "alcohol"]}, people.alice, now - timedelta(days=30)
    )
    drinks_by_day = {1: "6", 2: "3"}
    for days_ago in range(1, 7):
        day = today - timedelta(days=days_ago)
        data = {
            "mood": 5,
            "cravings": [{"substance": "opioids", "intensity": 7}, {"substance": "alcohol", "intensity": 2}],
            "use": [
                {"substance": "opioids", "used": days_ago in (3, 4)},
                {"substance": "alcohol", "used": days_ago in drinks_by_day, "amount": drinks_by_day.get(days_ago)},
            ],
        }
        save_checkin(db.session, pat.patient, day, data, at_local(pat, day, 20), pat)
    db.session.commit()
    body = _summary(client, people).get_json()
    by_code = {item["substance"]: item for item in body["substances"]}
    assert list(by_code) == ["opioids", "alcohol"]
    assert (by_code["opioids"]["pda"], by_code["opioids"]["use_days"], by_code["opioids"]["reported_days"]) == (
        66.7, 2, 6,
    )  # fmt: skip
    assert by_code["opioids"]["heavy_drinking_days"] is None
    alcohol = by_code["alcohol"]
    assert (alcohol["pda"], alcohol["use_days"], alcohol["reported_days"]) == (66.7, 2, 6)
    assert (alcohol["heavy_drinking_days"], alcohol["heavy_drinking_threshold"], alcohol["amount_days"]) == (1, 4, 2)
    # The pooled figure stays: a day with any use is a use day (4 of 6).
    assert (body["percent_days_abstinent"], body["abstinence_reported_days"]) == (33.3, 6)
