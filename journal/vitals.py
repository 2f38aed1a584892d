"""At-session measures that call for a second look (SPEC 7.4), as pure rules over a session's measures.

None of these refuses a value: a reading can be low or high and true. The session form asks the clinician to
confirm such values before they are saved, and the API saves them and answers with the same warnings.

- before dosing above 140/90: the esketamine label advises weighing treatment carefully, perhaps delaying [S66];
- after dosing, or before discharge, above 180/110: a hypertensive-urgency level, to be re-measured and acted on;
- a rise of 40 mmHg systolic or 25 mmHg diastolic from before to after: the rise the esketamine trials counted [S67];
- SpO2 under 90 %: respiratory status is what the esketamine REMS asks settings to monitor with a pulse oximeter;
- a sedation score under 5 (MOAA/S) when the patient is assessed for discharge: the REMS monitors "until resolution
  of sedation";
- an esketamine session observed under 120 minutes: the REMS minimum (KET-R8, the form's treatment duration).

It also holds what the REMS monitoring form asks about the session besides the measures, as plain data: the classes
of concomitant medication it asks yes or no about, and where in the session each timed reading may fall.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

PRE_LIMIT = (140, 90)
POST_LIMIT = (180, 110)
RISE_LIMIT = (40, 25)
SPO2_LOW = 90  # %
ALERT = 5  # MOAA/S: responds readily to name spoken in normal tone
ESKETAMINE_OBSERVATION = 120  # minutes, esketamine REMS

# The Modified Observer's Assessment of Alertness/Sedation (SPEC 7.4: what the esketamine trials used), from fully
# alert down; the form's hint and the session record say what each score means.
SEDATION_SCALE = {
    5: "responds readily to name spoken in normal tone",
    4: "lethargic response to name spoken in normal tone",
    3: "responds only after name is called loudly or repeatedly",
    2: "responds only after mild prodding or shaking",
    1: "responds only after painful trapezius squeeze",
    0: "no response after painful trapezius squeeze",
}


# The REMS form's item 2 (SPEC 7.4, KET-R8): medication that may cause sedation or blood-pressure changes, yes or no
# for each class; the manufacturer's walkthrough of the current form adds opioids.
CONCOMITANT_CLASSES = {
    "benzodiazepines": "Benzodiazepines",
    "sedative_hypnotics": "Non-benzodiazepine sedative hypnotics",
    "psychostimulants": "Psychostimulants",
    "maois": "Monoamine oxidase inhibitors (MAOIs)",
    "opioids": "Opioids",
}


def concomitant_answers(stored: Mapping[str, bool] | None) -> dict[str, bool | None]:
    """Every class of the medication question with its answer as stored: True, False or None (not recorded)."""
    stored = stored or {}
    return {key: stored.get(key) for key in CONCOMITANT_CLASSES}


# Where a timed reading may fall (SPEC 7.4: SpO2 and sedation are time-stamped). The reading before dosing is taken
# before the start, on the way in; those after dosing from the start until discharge, within the longest observation
# a session records (24 hours).
PRE_READING_WINDOW = timedelta(hours=12)
POST_READING_WINDOW = timedelta(hours=24)
# Each reading time and the reading it belongs to: (time field, reading field, when, what).
READING_TIMES = (
    ("spo2_pre_at", "spo2_pre", "before", "the SpO2 before dosing"),
    ("spo2_post_at", "spo2_post", "after", "the lowest SpO2 after dosing"),
    ("sedation_at", "sedation", "after", "the sedation score"),
)


def reading_time_problems(values: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with the reading times among ``values`` (a loaded session), by field: a time without its
    reading, a reading before dosing taken after the start or more than 12 hours before it, one after dosing
    taken before the start, more than 24 hours after it, or after the discharge. Empty when all is well."""
    start, discharge = values.get("start"), values.get("discharge_at")
    problems = {}
    for time_field, reading_field, when, what in READING_TIMES:
        taken = values.get(time_field)
        if taken is None:
            continue
        if values.get(reading_field) is None:
            problems[time_field] = f"This time has no reading: give {what}, or leave the time empty."
        elif not isinstance(start, datetime):
            continue  # the start is missing or refused: its own error says so
        elif when == "before" and not start - PRE_READING_WINDOW <= taken <= start:
            problems[time_field] = (
                "Give a time before the start of dosing, at most "
                f"{PRE_READING_WINDOW.total_seconds() / 3600:g} hours before it."
            )
        elif when == "after" and not start <= taken <= start + POST_READING_WINDOW:
            problems[time_field] = (
                "Give a time after the start of dosing, at most "
                f"{POST_READING_WINDOW.total_seconds() / 3600:g} hours after it."
            )
        elif when == "after" and isinstance(discharge, datetime) and taken > discharge:
            problems[time_field] = "Give a time no later than the discharge."
    return problems


def is_esketamine(product: str | None) -> bool:
    """Whether the product named is esketamine (Spravato), whose REMS sets the 2-hour observation. The route alone
    does not say it: racemic ketamine is given intranasally too."""
    name = (product or "").lower()
    return "esketamine" in name or "spravato" in name


def observed_minutes(values: Mapping[str, Any] | object) -> int | None:
    """The session's treatment duration: the observation minutes recorded, or else from the start to discharge."""
    get = _getter(values)
    if get("observation_minutes") is not None:
        return get("observation_minutes")
    start, discharge = get("start"), get("discharge_at")
    if isinstance(start, datetime) and isinstance(discharge, datetime) and discharge >= start:
        return int((discharge - start).total_seconds() // 60)
    return None


def _getter(values: Mapping[str, Any] | object):
    if isinstance(values, Mapping):
        return values.get
    return lambda name: getattr(values, name, None)


def vitals_warnings(values: Mapping[str, Any] | object) -> list[dict[str, str]]:
    """The warnings for one session's measures, each ``{"field", "message"}`` naming the field to look at again.
    ``values`` is a mapping (a loaded form) or an object with the measures as attributes (a stored session)."""
    get = _getter(values)
    warnings = []

    def warn(field: str, message: str) -> None:
        warnings.append({"field": field, "message": message})

    pre = get("bp_systolic_pre"), get("bp_diastolic_pre")
    post = get("bp_systolic_post"), get("bp_diastolic_post")
    discharge = get("bp_systolic_discharge"), get("bp_diastolic_discharge")
    if None not in pre and (pre[0] > PRE_LIMIT[0] or pre[1] > PRE_LIMIT[1]):
        warn(
            "bp_systolic_pre",
            f"Blood pressure before dosing is {pre[0]}/{pre[1]}, above {PRE_LIMIT[0]}/{PRE_LIMIT[1]}: "
            "consider delaying the treatment.",
        )
    if None not in post and (post[0] > POST_LIMIT[0] or post[1] > POST_LIMIT[1]):
        warn(
            "bp_systolic_post",
            f"Blood pressure after dosing is {post[0]}/{post[1]}, "
            f"above {POST_LIMIT[0]}/{POST_LIMIT[1]}: measure again and act on it.",
        )
    if (
        None not in pre
        and None not in post
        and (post[0] - pre[0] >= RISE_LIMIT[0] or post[1] - pre[1] >= RISE_LIMIT[1])
    ):
        warn(
            "bp_diastolic_post",
            f"Blood pressure rose from {pre[0]}/{pre[1]} to {post[0]}/{post[1]}, by "
            f"{RISE_LIMIT[0]} mmHg systolic or {RISE_LIMIT[1]} mmHg diastolic or more.",
        )
    if None not in discharge and (discharge[0] > POST_LIMIT[0] or discharge[1] > POST_LIMIT[1]):
        warn(
            "bp_systolic_discharge",
            f"Blood pressure before discharge is {discharge[0]}/{discharge[1]}, "
            f"above {POST_LIMIT[0]}/{POST_LIMIT[1]}: measure again and act on it.",
        )
    for name, when in (("spo2_pre", "before dosing"), ("spo2_post", "after dosing")):
        if get(name) is not None and get(name) < SPO2_LOW:
            warn(
                name,
                f"Oxygen saturation {when} is {get(name)} %, below {SPO2_LOW} %: check the patient's breathing "
                "and the reading.",
            )
    sedation = get("sedation")
    if sedation is not None and sedation < ALERT and sedation in SEDATION_SCALE:
        warn(
            "sedation",
            f"Sedation at discharge is MOAA/S {sedation} ({SEDATION_SCALE[sedation]}), below {ALERT}: "
            "observe until the sedation has resolved.",
        )
    minutes = observed_minutes(values)
    if is_esketamine(get("product")) and minutes is not None and minutes < ESKETAMINE_OBSERVATION:
        field = "observation_minutes" if get("observation_minutes") is not None else "discharge_at"
        warn(
            field,
            f"Esketamine observation of {minutes} minutes is under the {ESKETAMINE_OBSERVATION} minutes "
            "the REMS requires.",
        )
    return warnings
