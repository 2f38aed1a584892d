"""Property tests over the check-in API: whatever is sent, the answer is never a server error, a refused
request writes nothing, and an accepted one writes one whole day (never a part of one)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from journal.checkins import local_today
from journal.db import db, utcnow
from journal.models import CheckIn, CravingRating, SleepRecord, SubstanceUse
from tests.conftest import bearer

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    # Examples share the test's database on purpose: each one compares counts before and after itself.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),
)
any_json = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)

NIGHT = {
    "into_bed": "2026-03-09T22:30:00-06:00",
    "tried_sleep": "2026-03-09T23:00:00-06:00",
    "sol_min": 20,
    "awakenings": 1,
    "waso_min": 15,
    "final_wake": "2026-03-10T06:15:00-06:00",
    "out_of_bed": "2026-03-10T06:45:00-06:00",
    "quality": "good",
}
instants = st.datetimes().map(lambda d: d.isoformat() + "+05:45") | st.text(max_size=25)
sleeps = st.fixed_dictionaries(
    {},
    optional={
        "into_bed": instants,
        "tried_sleep": instants,
        "final_wake": instants,
        "out_of_bed": instants,
        "sol_min": st.integers(-5, 2000),
        "awakenings": st.integers(-1, 100),
        "waso_min": st.integers(-5, 2000),
        "quality": st.sampled_from(["good", "bad", "very_good", ""]),
    },
) | st.just(NIGHT)
near_valid_bodies = st.fixed_dictionaries(
    {
        "mood": st.integers(-2, 12) | json_scalars,
        "cravings": st.lists(
            st.fixed_dictionaries(
                {"substance": st.sampled_from(["alcohol", "opioids", "glue"]), "intensity": st.integers(-1, 11)}
            ),
            max_size=3,
        ),
        "use": st.lists(
            st.fixed_dictionaries({"substance": st.sampled_from(["alcohol", "opioids"]), "used": st.booleans()}),
            max_size=3,
        ),
    },
    optional={
        "sleep": sleeps | st.none(),
        "pain": st.integers(-1, 11) | st.none(),
        "side_effects": st.lists(st.sampled_from(["headache", "nausea", "hiccups"]), max_size=3),
        "note": st.text(max_size=50),
        "submission_id": st.text(alphabet="abcdef0123456789-", min_size=0, max_size=70),
        "extra": any_json,
    },
)
valid_bodies = st.fixed_dictionaries(
    {
        "mood": st.integers(0, 10),
        "cravings": st.integers(0, 10).map(lambda n: [{"substance": "alcohol", "intensity": n}]),
        "use": st.booleans().map(lambda used: [{"substance": "alcohol", "used": used}]),
    },
    optional={"sleep": st.just(NIGHT), "note": st.text(max_size=50), "side_effects": st.just(["headache"])},
)
bodies = valid_bodies | near_valid_bodies | any_json
day_offsets = st.integers(-10, 2)
day_texts = st.one_of(
    st.integers(-7, 0), day_offsets, st.text(min_size=1, max_size=12).filter(lambda s: "/" not in s and "?" not in s)
)

TABLES = (CheckIn, CravingRating, SubstanceUse, SleepRecord)


def _counts() -> tuple[int, ...]:
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(table)) for table in TABLES)


def test_no_check_in_body_yields_a_server_error_or_a_partial_write(client, people):
    outcomes: Counter[int] = Counter()
    _put_anything(client, people, bearer(client, people.pat), outcomes)
    # Not vacuous: the generated requests were both accepted and refused.
    assert outcomes[2] >= 3 and outcomes[4] >= 10, outcomes


@PROPERTY_SETTINGS
@given(body=bodies, day=day_texts)
def _put_anything(client, people, headers, outcomes, body, day):
    today = local_today(people.pat, utcnow())
    path_day = (today + timedelta(days=day)).isoformat() if isinstance(day, int) else day
    before = _counts()
    response = client.put(f"/api/v1/checkins/{path_day}", json=body, headers=headers)
    after = _counts()
    outcomes[response.status_code // 100] += 1
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert after == before, f"refused with {response.status_code} but wrote something"
        return
    assert response.status_code in (200, 201)
    stored = db.session.scalar(
        select(CheckIn).where(CheckIn.patient_id == people.pat.id, CheckIn.local_date == date.fromisoformat(path_day))
    )
    # A whole day: every tracked substance answered, and a night only with all of its parts.
    assert [c.substance for c in stored.cravings] == ["alcohol"]
    assert [u.substance for u in stored.uses] == ["alcohol"]
    assert after[0] == before[0] + (1 if response.status_code == 201 else 0)
