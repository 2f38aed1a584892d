"""One patient's data as the charts, the summary and the report need it: loaded in a few statements, turned
into the plain values that ``analytics`` and ``charts`` take. No Flask."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import analytics, baselines, instruments, people, scales, scoring
from .charts import AssessmentSeries, DailySeries, adherence_states
from .checkins import use_day
from .models import (
    SUBSTANCES,
    Assessment,
    Baseline,
    CheckIn,
    DosingSession,
    Patient,
    ProgrammeChange,
    ReportMode,
    SessionStatus,
    User,
)
from .scoring import GAD7, PHQ9

DEFAULT_DAYS = 90


@dataclass(frozen=True)
class PatientData:
    """Everything about one patient between two local dates (inclusive), in the patient's own dates."""

    patient: Patient
    first: date
    last: date
    today: date
    checkins: list[CheckIn]
    forms: list[Assessment]  # every form, oldest first (baselines may predate ``first``)
    baselines: dict[str, Assessment]
    sessions: list[DosingSession]  # every session, oldest first
    programme: list[ProgrammeChange] = field(default_factory=list)  # its history, oldest first
    baseline_rows: dict[str, Baseline] = field(default_factory=dict)  # who chose each baseline, and when
    choosers: dict[int, str] = field(default_factory=dict)  # the names of the clinicians who chose one
    pain_before: list[int] = field(default_factory=list)  # PAIN-R2: the week before the first session's ratings

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.patient.user.timezone)

    def local(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    @property
    def given_days(self) -> list[date]:
        return [self.local(s.start) for s in self.sessions if s.status == SessionStatus.GIVEN]


def load(session: Session, patient: Patient, now: datetime, days: int = DEFAULT_DAYS) -> PatientData:
    today = now.astimezone(ZoneInfo(patient.user.timezone)).date()
    first = today - timedelta(days=days - 1)
    checkins = list(
        session.scalars(
            select(CheckIn)
            .where(CheckIn.patient_id == patient.user_id, CheckIn.local_date.between(first, today))
            .order_by(CheckIn.local_date)
        )
    )
    forms = list(
        session.scalars(
            select(Assessment)
            .where(Assessment.patient_id == patient.user_id)
            .order_by(Assessment.completed_at, Assessment.id)
        )
    )
    by_id = {form.id: form for form in forms}
    rows = {
        row.instrument: row for row in session.scalars(select(Baseline).where(Baseline.patient_id == patient.user_id))
    }
    baselines = {instrument: by_id[row.assessment_id] for instrument, row in rows.items()}
    chooser_ids = {row.chosen_by_id for row in rows.values() if row.chosen_by_id is not None}
    choosers = (
        {user_id: name for user_id, name in session.execute(select(User.id, User.name).where(User.id.in_(chooser_ids)))}
        if chooser_ids
        else {}
    )
    sessions = list(
        session.scalars(
            select(DosingSession)
            .where(DosingSession.patient_id == patient.user_id)
            .order_by(DosingSession.start, DosingSession.id)
        )
    )
    programme = people.programme_history(session, patient)
    pain_before = _pain_before_treatment(session, patient, sessions)
    return PatientData(
        patient, first, today, today, checkins, forms, baselines, sessions, programme, rows, choosers, pain_before
    )


def _pain_before_treatment(session: Session, patient: Patient, sessions: list[DosingSession]) -> list[int]:
    """PAIN-R2: the daily pain ratings of the week before the first given session of the course (the session that
    anchors the baselines), wherever that week falls from the range loaded."""
    first = baselines.anchor(sessions)
    if not patient.tracks_pain or first is None:
        return []
    day = first.start.astimezone(ZoneInfo(patient.user.timezone)).date()
    return list(
        session.scalars(
            select(CheckIn.pain).where(
                CheckIn.patient_id == patient.user_id,
                CheckIn.local_date.between(day - timedelta(days=analytics.PAIN_WEEK), day - timedelta(days=1)),
                CheckIn.pain.is_not(None),
            )
        )
    )


def pain_change(data: PatientData) -> analytics.PainChange | None:
    """PAIN-R2 for a patient who tracks pain: the pre-treatment week against the latest (today and 6 days before)."""
    if not data.patient.tracks_pain:
        return None
    week_start = data.today - timedelta(days=analytics.PAIN_WEEK - 1)
    latest = [c.pain for c in data.checkins if c.pain is not None and c.local_date >= week_start]
    return analytics.pain_change(data.pain_before, latest)


def baseline_states(data: PatientData) -> dict[str, baselines.BaselineState]:
    """Each instrument's baseline, who chose it (the rule or a clinician), or why there is none (PHQ-R9)."""
    states = {}
    for instrument in (definition.key for definition in instruments.for_patient(data.patient)):
        row = data.baseline_rows.get(instrument)
        name = data.choosers.get(row.chosen_by_id) if row is not None and row.chosen_by_id is not None else None
        form = data.baselines.get(instrument)
        states[instrument] = baselines.state(instrument, row, form, name, data.forms, data.sessions, data.zone)
    return states


def _pain_document(change: analytics.PainChange | None) -> dict | None:
    if change is None:
        return None
    return {
        "before_mean": change.before_mean,
        "before_days": change.before_days,
        "latest_mean": change.latest_mean,
        "latest_days": change.latest_days,
        "pct_decrease": change.pct_decrease,
        "flag": change.flag,
    }


def baseline_document(state: baselines.BaselineState) -> dict:
    """One instrument's baseline as the summary gives it."""
    form = state.form
    return {
        "instrument": state.instrument,
        "assessment_id": form.id if form is not None else None,
        "total": form.total if form is not None else None,
        "completed_at": form.completed_at if form is not None else None,
        "chosen_by": state.chosen_by,
        "chosen_by_name": state.chosen_by_name,
        "chosen_at": state.chosen_at,
        "first_session": state.first_session,
        "missing": state.missing,
        "note": state.note,
    }


# Which rule judges change from the baseline, as a code for the API (the words are ``Instrument.change_rule``).
CHANGE_RULES = {
    instruments.PHQ9.key: "response_remission",  # PHQ-R9
    instruments.PHQ8.key: "response_remission",  # SAFE-R4: the PHQ-9's cut-points
    instruments.PCL5.key: "pcl5_points",  # PCL-R8: 5 and 10 points, a rise of 5 is worsening
    instruments.PEG.key: "peg_30_percent",  # PEG-R4
}
NO_RULE = "none"  # GAD-7 (GAD-R2), PACS and AUDIT-C define no response


def form_document(form: Assessment) -> dict:
    """A scored form as the summary gives it: its total and what its instrument reports beyond it, under the
    SPEC's names (PCL-5 clusters and flags with the cut-point in force, PEG score, AUDIT-C screen)."""
    return {
        "assessment_id": form.id,
        "total": form.total,
        "band": form.band,
        "completed_at": form.completed_at,
        **(form.scores or {}),
    }


def instrument_document(definition: instruments.Instrument, data: PatientData, state: baselines.BaselineState) -> dict:
    """One instrument of the patient's: its baseline (who chose it, or why none), its latest scored form, the change
    between them and the instrument's own judgement of it (``Instrument.judge``), measured only for a form after
    the baseline, as ``assessments.history`` does."""
    scored = [form for form in data.forms if form.instrument == definition.key and form.total is not None]
    latest = scored[-1] if scored else None
    base = state.form
    after = (
        latest is not None
        and base is not None
        and base.total is not None
        and (latest.completed_at, latest.id) > (base.completed_at, base.id)
    )
    judged = definition.judge(base.total, latest.total) if after else {}
    flags = {key: value for key, value in judged.items() if key not in ("response", "remission", "change")}
    is_phq = definition.key in (instruments.PHQ9.key, instruments.PHQ8.key)
    baseline = baseline_document(state)
    if definition.key == instruments.PEG.key and base is not None and base.total is not None:
        baseline["score"] = scales.peg_tenths(base.total) / 10  # PEG-R3: the mean, for display
    return {
        "instrument": definition.key,
        "name": definition.name,
        "baseline": baseline,
        "baseline_missing": state.missing is not None,
        "baseline_missing_reason": state.missing,
        "latest": form_document(latest) if latest is not None else None,
        "change": latest.total - base.total if after else None,
        "response": judged.get("response"),
        "remission": judged.get("remission"),
        "pct_reduction": scoring.pct_reduction(base.total, latest.total) if after and is_phq else None,
        "baseline_below_usual": is_phq and base is not None and base.total is not None and base.total < USUAL_BASELINE,
        "flags": flags,
        "rule": CHANGE_RULES.get(definition.key, NO_RULE),
        "change_rule": definition.change_rule,
    }


USUAL_BASELINE = 10  # SPEC 1.6: response and remission usually count only baselines of 10 or more

# PCL-R7: the two PCL-5 flags are labelled exactly so, never "PTSD" or "no PTSD".
PCL5_PATTERN_LABEL = "provisional DSM-5 symptom pattern"
PCL5_CUT_POINT_LABEL = "score at or above screening cut-point"
PCL5_CLUSTER_NAMES = {
    "B": "B, intrusion",
    "C": "C, avoidance",
    "D": "D, negative thoughts and mood",
    "E": "E, arousal and reactivity",
}
PCL5_CLUSTER_MAX = {name: 4 * len(items) for name, items in scales.PCL5_CLUSTERS.items()}
# PACS-R5: the reference lines named with their source and the population they were found in.
PACS_REFERENCE_TEXT = (
    "15 and 21. In non-treatment-seeking heavy drinkers (Hartwell et al. 2019), a total of 15 or more gave the best "
    "balance against interview (sensitivity 67 %, specificity 81 %), and a total over 20 has been used as a "
    "stand-in for the DSM-5 craving criterion (41 %, 95 %). Neither is a severity band."
)
AUDITC_ITEM1_NOTE = (
    "Every point comes from the first question (items 2 and 3 are 0): the patient is likely drinking below "
    "recommended limits; the clinician may review their intake. This does not change the screen."
)
PEG_MID_NOTE = (
    "A change of 1.0 point or more of the mean is an estimate of the minimal important difference (trials gave "
    "mostly 1.0 to 1.75), not a second success rule."
)
THRESHOLD_BASES = {"male": "for a man", "female": "for a woman", "default-lower": "the lower one: sex not recorded"}


def _yes(value: bool | None) -> str:
    return "yes" if value else "no"


def _total_text(key: str, form: dict, *, short: bool = False) -> str:
    """A form's result as a clinician reads it: the PEG as its one-decimal mean (PEG-R3), others as a total
    (``short``: the number alone)."""
    definition = instruments.ALL[key]
    if key == instruments.PEG.key:
        return f"{scales.peg_tenths(form['total']) / 10:.1f} (sum {form['total']} of {definition.total_max})"
    if short:
        return str(form["total"])
    text = f"{form['total']} of {definition.total_max}"
    if form.get("band"):
        text += f", {scoring.BAND_LABELS.get(form['band'], form['band']).lower()}"
    return text


def baseline_text(item: dict, when) -> str:
    """The baseline, who chose it (the rule or a clinician), or why there is none (PHQ-R9)."""
    base = item["baseline"]
    if base["total"] is None:
        return base["note"] or "Not set"
    if base["chosen_by"] == "rule":
        chooser = "the rule (the closest form at most 14 days before the first dosing session)"
    else:
        chooser = base["chosen_by_name"] or "a clinician"
    total = _total_text(item["instrument"], base, short=True)
    return f"{total}, completed {when(base['completed_at'])}, chosen by {chooser}"


def change_text(item: dict) -> str:
    """The change from the baseline and what the instrument's own rule makes of it, in words."""
    base, latest = item["baseline"], item["latest"]
    if item["change"] is None:
        if base["total"] is None:
            return "Not measured: no baseline"
        if latest is None or latest["assessment_id"] == base["assessment_id"]:
            return "Not measured yet: no form since the baseline"
        return "Not measured: the latest form is not after the baseline"
    change, rule, flags = item["change"], item["rule"], item["flags"]
    text = (
        f"{change:+d} from the baseline of {base['total']}"
        if change
        else f"No change from the baseline of {base['total']}"
    )
    if rule == "response_remission":
        if item["response"] is None:
            text += "; response not defined (baseline 0)"
        else:
            text += f"; {'response' if item['response'] else 'no response'}"
            if item["pct_reduction"] is not None:
                pct = item["pct_reduction"]
                text += f" ({abs(pct):.1f} % {'lower' if pct >= 0 else 'higher'})"
        text += f"; {'remission' if item['remission'] else 'no remission'}"
        if item["baseline_below_usual"]:
            text += f" (outside the usual definition: baseline under {USUAL_BASELINE})"
    elif rule == "pcl5_points":
        text += f"; response (5 points or more lower): {_yes(flags['pcl_response'])}"
        text += f"; clinically meaningful (10 points or more lower): {_yes(flags['pcl_clinically_meaningful'])}"
        if flags["worsening"]:
            text += "; worsening (5 points or more higher)"
    elif rule == "peg_30_percent":
        pct = flags["peg_pct_reduction"]
        if flags["peg_improved_30"] is None:
            text += "; 30 % lower: not defined (baseline 0)"
        else:
            text += f"; 30 % or more lower: {_yes(flags['peg_improved_30'])}"
            text += f" ({abs(pct):.1f} % {'lower' if pct >= 0 else 'higher'})"
        text += f"; a change of 1.0 point of the mean or more: {_yes(flags['mid_change'])}"
    else:
        text += "; no change rule"
    return text


def instrument_lines(item: dict, when, clinic_cut_point: int) -> list[tuple[str, str]]:
    """One instrument's facts as (label, sentence) pairs, for the patient page and the report alike."""
    key, latest = item["instrument"], item["latest"]
    lines = []
    if latest is None:
        lines.append(("Latest", f"No {item['name']} yet"))
    else:
        lines.append(("Latest", f"{_total_text(key, latest)}, completed {when(latest['completed_at'])}"))
    if key == instruments.PCL5.key:
        if latest is not None:
            clusters = latest["clusters"]
            lines.append(
                (
                    "Clusters",
                    "; ".join(
                        f"{PCL5_CLUSTER_NAMES[name]} {clusters[name]} of {PCL5_CLUSTER_MAX[name]}"
                        for name in PCL5_CLUSTER_NAMES
                    ),
                )
            )
            lines.append((PCL5_PATTERN_LABEL, _yes(latest["provisional_ptsd"])))
            lines.append((PCL5_CUT_POINT_LABEL, f"{_yes(latest['probable_ptsd'])} (cut-point {latest['cut_point']})"))
        in_force = f"{clinic_cut_point} (the clinic's setting, from the published range of 31 to 33)"
        if latest is not None and latest["cut_point"] != clinic_cut_point:
            in_force += f"; the latest form was scored at {latest['cut_point']}"
        lines.append(("Cut-point in force", in_force))
    if key == instruments.AUDITC.key and latest is not None:
        basis = THRESHOLD_BASES.get(latest["threshold_basis"], latest["threshold_basis"])
        lines.append(("Positive screen", f"{_yes(latest['positive'])} (threshold {latest['threshold']}, {basis})"))
        if latest["all_points_from_item1"]:
            lines.append(("Note", AUDITC_ITEM1_NOTE))
    if key == instruments.PACS.key:
        lines.append(("Reference lines", PACS_REFERENCE_TEXT))
    lines.append(("Baseline", baseline_text(item, when)))
    lines.append(("Change", change_text(item)))
    lines.append(("Rule", item["change_rule"]))
    if key == instruments.PEG.key:
        lines.append(("Minimal important difference", PEG_MID_NOTE))
    return lines


def daily_series(data: PatientData) -> DailySeries:
    sleep = {c.local_date: round(c.sleep.tst_min / 60, 2) for c in data.checkins if c.sleep is not None}
    cravings = {c.local_date: max(r.intensity for r in c.cravings) for c in data.checkins if c.cravings}
    by_substance: dict[str, dict[date, float]] = {code: {} for code in data.patient.substances}
    for c in data.checkins:
        for rating in c.cravings:
            by_substance.setdefault(rating.substance, {})[c.local_date] = rating.intensity
    use_days: dict[str, set[date]] = {code: set() for code in by_substance}
    for substance, days in substance_reports(data).items():
        use_days[substance] = {day for day, (used, _) in days.items() if used and data.first <= day <= data.last}
    return DailySeries(
        first=data.first,
        last=data.last,
        mood={c.local_date: c.mood for c in data.checkins},
        craving=cravings,
        substance_cravings=by_substance,
        use_days=use_days,
        sleep_hours=sleep,
        pain={c.local_date: c.pain for c in data.checkins if c.pain is not None},
        sessions=data.given_days,
    )


def assessment_series(data: PatientData) -> AssessmentSeries:
    def points(instrument: str) -> list[tuple[date, int]]:
        return [
            (data.local(f.completed_at), f.total)
            for f in data.forms
            if f.instrument == instrument and f.total is not None and data.first <= data.local(f.completed_at)
        ]

    return AssessmentSeries(
        phq9=points(PHQ9),
        gad7=points(GAD7),
        baseline={key: form.total for key, form in data.baselines.items() if form.total is not None},
        sessions=data.given_days,
        first=data.first,
        last=data.last,
    )


def adherence_by_day(data: PatientData) -> dict[date, str]:
    entries = {c.local_date: c.report_mode == ReportMode.ON_TIME for c in data.checkins}
    active = data.patient.user.activated_at
    active_since = data.local(active) if active is not None else data.today
    return adherence_states(entries, data.first, data.last, active_since, data.today)


def adherence(data: PatientData) -> analytics.Adherence:
    entries = {c.local_date: c.report_mode == ReportMode.ON_TIME for c in data.checkins}
    active = data.patient.user.activated_at
    return analytics.adherence(entries, data.today, data.local(active) if active is not None else data.today)


def series_end(data: PatientData) -> date | None:
    """The end of the induction series: the patient's recorded date, else the end of a closed induction
    course."""
    if data.patient.induction_until is not None:
        return data.patient.induction_until
    ends = [s.course.ended_on for s in data.sessions if s.course is not None and s.course.ended_on is not None]
    return max(ends, default=None)


def substance_reports(data: PatientData) -> dict[str, dict[date, tuple[bool, str | None]]]:
    """Per substance, each day with a use report: (used, amount), filed under the day it is about
    (``checkins.use_day``: the check-in's own date, SUD-R1)."""
    reports: dict[str, dict[date, tuple[bool, str | None]]] = {code: {} for code in data.patient.substances}
    for c in data.checkins:
        for use in c.uses:
            reports.setdefault(use.substance, {})[use_day(c)] = (use.used, use.amount)
    return reports


def substance_name(code: str) -> str:
    return SUBSTANCES.get(code, code)


PAIN_FLAG_WORDS = {
    "substantial": "a substantial decrease (50 % or more)",
    "moderate": "a moderately important decrease (30 % or more)",
    "minimal": "a minimally important decrease (10 % or more)",
}


def pain_line(pain: dict) -> str:
    """PAIN-R2 in words, for the page and the report: both weeks' means with their days, and the IMMPACT level."""

    def week(mean, days: int, which: str) -> str:
        if mean is None:
            return f"{which}: too few ratings ({days} of 7 days)"
        return f"{which} {mean:g} ({days} of 7 days)"

    line = (
        f"{week(pain['before_mean'], pain['before_days'], 'Week before the first session')}; "
        f"{week(pain['latest_mean'], pain['latest_days'], 'latest week')}"
    )
    if pain["pct_decrease"] is None:
        return line
    change = pain["pct_decrease"]
    if change < 0:
        return line + f"; {-change:g} % higher"
    line += f"; {change:g} % lower"
    return line + (
        f": {PAIN_FLAG_WORDS[pain['flag']]}" if pain["flag"] else ": less than a minimally important decrease"
    )


def substance_line(item: dict) -> str:
    """One substance's figures in words, for the page and the report (SUD-R3: the denominator stated)."""
    if not item["reported_days"]:
        return "No use reports"
    line = (
        f"{item['pda']:g} % of {item['reported_days']} reported day{'' if item['reported_days'] == 1 else 's'} "
        f"({item['use_days']} day{'' if item['use_days'] == 1 else 's'} of use)"
    )
    if item.get("heavy_drinking_days") is not None and item["use_days"]:
        line += (
            f"; heavy drinking days: {item['heavy_drinking_days']} ({item['heavy_drinking_threshold']} or more drinks,"
            f" of {item['amount_days']} days with a number of drinks)"
        )
    return line


def summary(data: PatientData, now: datetime) -> dict:
    """What GET /patients/{id}/summary reports, and what the dashboard and the report show."""
    # SAFE-R4: the outcome fields follow the clinic's depression questionnaire, the PHQ-9 or the PHQ-8, by the
    # same rule (PHQ-R9); ``phq9`` stays the PHQ-9's latest form, for the clients that read it.
    depression = instruments.depression_instrument(data.patient.user.clinic)
    phq9 = [f for f in data.forms if f.instrument == PHQ9 and f.total is not None]
    gad7 = [f for f in data.forms if f.instrument == GAD7 and f.total is not None]
    depression_forms = [f for f in data.forms if f.instrument == depression.key and f.total is not None]
    baseline = data.baselines.get(depression.key)
    baseline_total = baseline.total if baseline is not None else None
    latest = depression_forms[-1] if depression_forms else None
    after_baseline = latest is not None and baseline is not None and latest.completed_at > baseline.completed_at
    outcome = analytics.outcome(baseline_total, latest.total if after_baseline else None)
    given = [s for s in data.sessions if s.status == SessionStatus.GIVEN and s.start <= now]
    planned = [s for s in data.sessions if s.status == SessionStatus.PLANNED and s.start > now]
    moods = {c.local_date: c.mood for c in data.checkins}
    end = series_end(data)
    watch = analytics.booster_watch(
        [
            (data.local(f.completed_at), f.total)
            for f in depression_forms
            if end is not None and data.local(f.completed_at) > end
        ],
        baseline_total,
        moods,
        end,
        data.today,
        name=depression.name,
    )
    used_on = {}
    for c in data.checkins:  # SUD-R1: a check-in's answer is about its own day
        if c.uses:
            used_on[use_day(c)] = any(u.used for u in c.uses)
    abstinence = analytics.percent_days_abstinent(used_on)
    adherence_now = adherence(data)

    def latest_of(forms: list[Assessment], instrument: str) -> dict | None:
        if not forms:
            return None
        form, base = forms[-1], data.baselines.get(instrument)
        return {
            "total": form.total,
            "band": form.band,
            "completed_at": form.completed_at,
            "change_from_baseline": form.total - base.total if base is not None and base.total is not None else None,
        }

    substances = [
        {
            "substance": figures.substance,
            "pda": figures.pda,
            "use_days": figures.use_days,
            "reported_days": figures.reported_days,
            "heavy_drinking_days": figures.heavy_days,
            "heavy_drinking_threshold": figures.heavy_threshold,
            "amount_days": figures.amount_days,
            "name": substance_name(figures.substance),  # for the pages; not in the API's document
        }
        for figures in analytics.substance_use(
            substance_reports(data),
            data.patient.sex,
            people.substance_periods(data.programme, data.zone) if data.programme else None,
        )
    ]
    for item in substances:
        item["line"] = substance_line(item)
    states = baseline_states(data)
    each = [
        instrument_document(definition, data, states[definition.key])
        for definition in instruments.for_patient(data.patient)
    ]
    pain = _pain_document(pain_change(data))
    return {
        "patient_id": data.patient.user_id,
        "adherence_pct": adherence_now.percent,
        "adherence_on_time": adherence_now.on_time,
        "adherence_backfilled": adherence_now.backfilled,
        "adherence_scheduled": adherence_now.scheduled,
        "depression_instrument": depression.key,
        "depression_name": depression.name,  # for the pages; not in the API's document
        "depression": latest_of(depression_forms, depression.key),
        "phq9": latest_of(phq9, PHQ9),
        "gad7": latest_of(gad7, GAD7),
        "baseline_total": baseline_total,
        "response": outcome.response,
        "remission": outcome.remission,
        "pct_reduction": outcome.pct_reduction,
        "baseline_below_usual": outcome.baseline_below_usual,
        # PHQ-R9: whether the depression questionnaire has no baseline, and each instrument's baseline with who
        # chose it or why none.
        "baseline_missing": baseline_total is None,
        "baselines": [baseline_document(state) for state in states.values()],
        "instruments": each,
        "consider_booster_review": watch.flag,
        "booster_reasons": list(watch.reasons),
        "days_since_last_session": (data.today - data.local(given[-1].start)).days if given else None,
        "next_session": planned[0].start if planned else None,
        "percent_days_abstinent": abstinence.percent,
        "abstinence_reported_days": abstinence.reported_days,
        "substances": substances,
        "pain": pain,
        "pain_line": pain_line(pain) if pain else None,  # for the pages; not in the API's document
        "durability": [
            {
                "session": d.session,
                "days": d.days,
                "censored": d.censored,
                "at_least_days": d.lasted,
            }
            for d in analytics.durability(moods, data.given_days, data.today)
        ],
    }
