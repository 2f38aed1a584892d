"""At-session blood pressure that calls for a second look (SPEC 7.4), as pure rules over a session's measures.

None of these refuses a value: a reading can be high and true. The session form asks the clinician to confirm
such values before they are saved, and the API saves them and answers with the same warnings.

- before dosing above 140/90: the esketamine label advises weighing treatment carefully, perhaps delaying [S66];
- after dosing above 180/110: a hypertensive-urgency level, to be re-measured and acted on;
- a rise of 40 mmHg systolic or 25 mmHg diastolic from before to after: the rise the esketamine trials counted [S67].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PRE_LIMIT = (140, 90)
POST_LIMIT = (180, 110)
RISE_LIMIT = (40, 25)


def vitals_warnings(values: Mapping[str, Any] | object) -> list[dict[str, str]]:
    """The warnings for one session's measures, each ``{"field", "message"}`` naming the field to look at again.
    ``values`` is a mapping (a loaded form) or an object with the measures as attributes (a stored session)."""

    def get(name: str):
        return values.get(name) if isinstance(values, Mapping) else getattr(values, name, None)

    warnings = []
    pre = get("bp_systolic_pre"), get("bp_diastolic_pre")
    post = get("bp_systolic_post"), get("bp_diastolic_post")
    if None not in pre and (pre[0] > PRE_LIMIT[0] or pre[1] > PRE_LIMIT[1]):
        warnings.append(
            {
                "field": "bp_systolic_pre",
                "message": f"Blood pressure before dosing is {pre[0]}/{pre[1]}, above {PRE_LIMIT[0]}/{PRE_LIMIT[1]}: "
                "consider delaying the treatment.",
            }
        )
    if None not in post and (post[0] > POST_LIMIT[0] or post[1] > POST_LIMIT[1]):
        warnings.append(
            {
                "field": "bp_systolic_post",
                "message": f"Blood pressure after dosing is {post[0]}/{post[1]}, "
                f"above {POST_LIMIT[0]}/{POST_LIMIT[1]}: measure again and act on it.",
            }
        )
    if (
        None not in pre
        and None not in post
        and (post[0] - pre[0] >= RISE_LIMIT[0] or post[1] - pre[1] >= RISE_LIMIT[1])
    ):
        warnings.append(
            {
                "field": "bp_diastolic_post",
                "message": f"Blood pressure rose from {pre[0]}/{pre[1]} to {post[0]}/{post[1]}, by "
                f"{RISE_LIMIT[0]} mmHg systolic or {RISE_LIMIT[1]} mmHg diastolic or more.",
            }
        )
    return warnings
