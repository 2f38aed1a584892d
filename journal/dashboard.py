"""The clinician's triage dashboard and the clinic overview: every patient at once, in a fixed number of SQL
statements however many patients there are. No Flask.

Set-based SQL (grouped and correlated subqueries that read indexes, the same on SQLite and PostgreSQL) loads
what every row needs in three statements; plain Python then works out each patient's own dates in their time
zone, which differ by a day across the world, and the figures, with the same rules as ``analytics`` and
``scoring``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, false, func, literal_column, null, or_, select, union_all
from sqlalchemy.orm import Session, aliased, joinedload

from . import analytics, baselines, instruments, scoring
from .access import visible_patients
from .models import (
    SUBSTANCES,
    Alert,
    Assessment,
    Baseline,
    CheckIn,
    Clinic,
    DosingSession,
    Patient,
    ReportMode,
    SessionStatus,
    SubstanceUse,
    User,
)
from .scoring import GAD7, PHQ9

SPARK_DAYS = 14  # the mood sparkline: the last 14 local days, today included
USUAL_BASELINE = 10  # SPEC 1.6: response and remission are usually counted only from a PHQ-9 baseline of 10 or more
SEVERITIES = ("high", "medium", "low")
MIN_CELL = 5  # the clinic overview shows admins no count of fewer than 5 patients
BOOSTER_REVIEW = "booster_review"  # the alert kind of the KET-R2 loss-of-response watch


# --- Whose patients ------------------------------------------------------------------------------------------------


def visible_ids(user: User, search: Search | None = None) -> Select:
    """The ids of the patients ``user`` may see (``access.visible_patients``, the one check), as a subquery;
    with ``search``, only those whose name or e-mail address matches it."""
    query = visible_patients(user)
    if search is not None:
        query = matching(query, search)
    return query.with_only_columns(Patient.user_id).order_by(None)


# --- Search by name or e-mail address ------------------------------------------------------------------------------

SEARCH_MAX = 100  # characters: longer than any name or address a clinician would type


@dataclass(frozen=True)
class Search:
    """What a clinician typed into a patient search (the ``q`` of the page's address), and the error at its field."""

    q: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Whether the list is narrowed: a search term, and no error."""
        return bool(self.q) and not self.errors


def read_search(value: str | None) -> Search:
    """The search term from a page's ``q``, spaces trimmed; a term too long to be a name is an error at the field
    (and the list is not narrowed)."""
    q = (value or "").strip()
    if len(q) > SEARCH_MAX:
        return Search(q[:SEARCH_MAX], {"q": [f"Search for at most {SEARCH_MAX} characters."]})
    return Search(q)


def matching(query: Select, search: Search) -> Select:
    """``query`` (a select that joins the patients' ``User`` rows, as ``access.visible_patients`` and
    ``access.patient_list`` do) narrowed to the patients whose name or e-mail address contains the search term,
    ignoring case. The filter is SQL, so only the matching rows are loaded; ``%`` and ``_`` are matched as
    themselves. SQLite ignores the case of ASCII letters only; PostgreSQL of every letter."""
    if not search.active:
        return query
    return query.where(
        or_(User.name.icontains(search.q, autoescape=True), User.email.icontains(search.q, autoescape=True))
    )


def clinic_ids(clinic_id: int) -> Select:
    """The ids of every patient of a clinic: only for aggregate figures (the admin's clinic overview)."""
    return select(Patient.user_id).join(User, User.id == Patient.user_id).where(User.clinic_id == clinic_id)


# --- The triage dashboard ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatestForm:
    """A patient's latest scored PHQ-9 or GAD-7, with its change from the stored baseline."""

    total: int
    band: str | None
    completed_at: datetime
    change_from_baseline: int | None  # negative is better: lower totals are better on both
    mcid: int  # PHQ-R10 / GAD-R1
    instrument: str = PHQ9  # phq9, phq8 (a SAFE-R4 clinic's in its place) or gad7

    @property
    def meaningful(self) -> bool:
        """A change from baseline of at least the MCID, either way."""
        return self.change_from_baseline is not None and abs(self.change_from_baseline) >= self.mcid


@dataclass(frozen=True)
class TriageRow:
    """One patient's line on the dashboard. Dates are the patient's own local dates."""

    patient_id: int
    name: str
    active: bool  # the patient has accepted their invitation: diaries are scheduled from then (EMA-R4)
    today: date
    last_checkin: date | None
    missed_days: int  # consecutive days without a check-in up to yesterday, counted from activation
    adherence: analytics.Adherence | None  # None before activation
    adherence_percent: float | None  # worked out once: the page and the sort both need it
    moods: tuple[int | None, ...]  # the last SPARK_DAYS days, oldest first, today last; None: no entry
    sparkline: Sparkline
    alerts: dict[str, int]  # open alerts by severity
    phq9: LatestForm | None  # the clinic's depression questionnaire: the PHQ-9, or the PHQ-8 in its place (SAFE-R4)
    gad7: LatestForm | None
    outcome: analytics.Outcome  # PHQ-9 (PHQ-8) response and remission against the stored baseline (PHQ-R9)
    days_since_last_session: int | None
    next_session: datetime | None
    booster_review: bool  # an open KET-R2 "consider booster review" alert: shown beside the days since the session
    substance_use: tuple = ()  # (name, analytics.SubstanceUseFigures) per substance reported in 14 days (SUD-R3)
    unseen_notes: int = 0  # check-in notes no one on the care team has opened yet
    timezone: str = "UTC"  # the patient's own zone: the next session at their clock as well as the reader's
    indications: tuple[str, ...] = ()  # what the patient is treated for: which questionnaires (instruments)
    depression: str = PHQ9  # the clinic's depression questionnaire (SAFE-R4)
    tracks_pain: bool = False

    @property
    def below_target(self) -> bool:
        return self.adherence_percent is not None and self.adherence_percent < analytics.ADHERENCE_TARGET

    @property
    def need(self) -> tuple:
        """The sort key, most in need first: open alerts by severity, then missed days, then lowest adherence."""
        percent = self.adherence_percent
        return (
            *(-self.alerts[severity] for severity in SEVERITIES),
            -min(self.unseen_notes, 1),  # after alerts: a patient whose note is unread, before missed days
            -self.missed_days,
            percent if percent is not None else 101.0,  # nothing scheduled yet: nothing missed
            self.name.casefold(),
            self.patient_id,
        )


def triage(session: Session, user: User, now: datetime, search: Search | None = None) -> list[TriageRow]:
    """Every patient ``user`` may see (with ``search``, those it matches), most in need first, in three SQL
    statements."""
    return sorted(_rows(session, visible_ids(user, search), now), key=lambda row: row.need)


def _rows(session: Session, ids: Select, now: datetime) -> Iterable[TriageRow]:
    # Every patient's local "today" is within a day of today in UTC, so this covers each one's 14-day adherence
    # window and sparkline; the latest check-in before it comes from a correlated max() on the unique index.
    window_start = now.date() - timedelta(days=analytics.ADHERENCE_DAYS + 1)
    patients = session.execute(_patients_statement(ids, now, window_start)).all()
    recent: dict[int, dict[date, tuple[int, bool]]] = {}
    # Each check-in's use answers come in the same statement (one row per substance): SUD-R3 per substance.
    uses: dict[int, dict[str, dict[date, tuple[bool, None]]]] = {}
    for patient_id, day, mood, mode, day_before, substance, used in session.execute(
        select(
            CheckIn.patient_id,
            CheckIn.local_date,
            CheckIn.mood,
            CheckIn.report_mode,
            CheckIn.uses_about_day_before,
            SubstanceUse.substance,
            SubstanceUse.used,
        )
        .outerjoin(SubstanceUse, SubstanceUse.checkin_id == CheckIn.id)
        .where(CheckIn.patient_id.in_(ids), CheckIn.local_date >= window_start)
    ):
        recent.setdefault(patient_id, {})[day] = (mood, mode == ReportMode.ON_TIME)
        if substance is not None:  # SUD-R1: the day the answer is about, as checkins.use_day reads it
            use_day = day - timedelta(days=1) if day_before else day
            uses.setdefault(patient_id, {}).setdefault(substance, {})[use_day] = (used, None)
    forms: dict[tuple[int, str], tuple] = {
        (row.patient_id, row.instrument): row for row in session.execute(_latest_forms_statement(ids))
    }
    for row in patients:
        zone = ZoneInfo(row.timezone)
        today = now.astimezone(zone).date()
        days = recent.get(row.user_id, {})
        before_today = [day for day in days if day < today]
        last_before_today = max(before_today, default=row.earlier_checkin)
        active_since = row.activated_at.astimezone(zone).date() if row.activated_at is not None else None
        adherence = None
        missed = 0
        if active_since is not None:
            adherence = analytics.adherence({day: on_time for day, (_, on_time) in days.items()}, today, active_since)
            first_missed = active_since
            if last_before_today is not None:
                first_missed = max(active_since, last_before_today + timedelta(days=1))
            missed = max(0, (today - first_missed).days)
        phq9 = forms.get((row.user_id, row.depression_instrument))
        given = row.last_given.astimezone(zone).date() if row.last_given is not None else None
        moods = tuple(days[day][0] if day in days else None for day in _spark_days(today))
        yield TriageRow(
            patient_id=row.user_id,
            name=row.name,
            active=active_since is not None,
            today=today,
            last_checkin=max(days, default=row.earlier_checkin),
            missed_days=missed,
            adherence=adherence,
            adherence_percent=adherence.percent if adherence is not None else None,
            moods=moods,
            sparkline=sparkline(moods),
            alerts={severity: int(getattr(row, severity) or 0) for severity in SEVERITIES},
            phq9=_latest(phq9, row.depression_instrument),
            gad7=_latest(forms.get((row.user_id, GAD7)), GAD7),
            outcome=_outcome(phq9),
            days_since_last_session=(today - given).days if given is not None else None,
            next_session=row.next_planned,
            booster_review=bool(row.booster_review),
            substance_use=_substance_use(uses.get(row.user_id, {}), today),
            unseen_notes=int(row.unseen_notes or 0),
            timezone=row.timezone,
            indications=tuple(row.indications or ()),
            depression=row.depression_instrument,
            tracks_pain=bool(row.tracks_pain),
        )


@dataclass(frozen=True)
class PageDetails:
    """What one page of the triage table shows beyond its rows: PAIN-R2 and the questionnaires."""

    pain: dict[int, analytics.PainChange]
    questionnaires: dict[int, RowQuestionnaires]


def page_details(session: Session, rows: Sequence[TriageRow], now: datetime) -> PageDetails:
    """PAIN-R2 and the questionnaires of the page's rows, in three statements whatever the number of rows: the
    given sessions (which both read), the pain ratings, and the forms."""
    given = given_sessions(session, [row.patient_id for row in rows])
    return PageDetails(pain_changes(session, rows, now, given), questionnaires(session, rows, now, given))


def given_sessions(session: Session, ids: Sequence[int]) -> dict[int, list[DosingSession]]:
    """The given sessions of the patients ``ids``, with their courses (``baselines.anchor`` reads them)."""
    given: dict[int, list[DosingSession]] = {}
    for record in session.scalars(
        select(DosingSession)
        .options(joinedload(DosingSession.course))
        .where(DosingSession.patient_id.in_(list(ids)), DosingSession.status == SessionStatus.GIVEN)
    ).unique():
        given.setdefault(record.patient_id, []).append(record)
    return given


def pain_changes(
    session: Session, rows: Sequence[TriageRow], now: datetime, given: dict[int, list[DosingSession]] | None = None
) -> dict[int, analytics.PainChange]:
    """PAIN-R2 for the patients of one dashboard page who track pain: the week before the first given session of
    their course (``baselines.anchor``, as the summary) against the latest week. Two statements whatever the
    number of rows (one with ``given``, the rows' given sessions): the given sessions with their courses, then
    only the ratings inside each patient's two weeks."""
    from .baselines import anchor

    zones = {row.patient_id: ZoneInfo(row.timezone) for row in rows if row.tracks_pain}
    if given is None:
        given = given_sessions(session, list(zones))
    given = {patient_id: sessions for patient_id, sessions in given.items() if patient_id in zones}
    weeks: dict[int, tuple[date, date]] = {}  # patient -> (first day before treatment, first day of the latest)
    for patient_id, sessions in given.items():
        first = anchor(sessions)
        day = first.start.astimezone(zones[patient_id]).date()
        today = now.astimezone(zones[patient_id]).date()
        weeks[patient_id] = (day - timedelta(days=analytics.PAIN_WEEK), today - timedelta(days=analytics.PAIN_WEEK - 1))
    windows = [
        and_(
            CheckIn.patient_id == patient_id,
            or_(
                CheckIn.local_date.between(before, before + timedelta(days=analytics.PAIN_WEEK - 1)),
                CheckIn.local_date >= latest,
            ),
        )
        for patient_id, (before, latest) in weeks.items()
    ]
    ratings: dict[int, tuple[list[int], list[int]]] = {patient_id: ([], []) for patient_id in weeks}
    for patient_id, day, pain in session.execute(
        select(CheckIn.patient_id, CheckIn.local_date, CheckIn.pain).where(
            CheckIn.pain.is_not(None), or_(false(), *windows)
        )
    ):
        before, latest = weeks[patient_id]
        if day < before + timedelta(days=analytics.PAIN_WEEK):  # a session in the last week: a day may be in both
            ratings[patient_id][0].append(pain)
        if day >= latest:
            ratings[patient_id][1].append(pain)
    return {patient_id: analytics.pain_change(*values) for patient_id, values in ratings.items()}


# --- Every questionnaire of the patient's indications, for one page of rows -----------------------------------------

INDICATION_KEYS = tuple(
    key for key, definition in instruments.ALL.items() if definition.indication != instruments.EVERYONE
)


@dataclass(frozen=True)
class InstrumentCell:
    """One questionnaire of a patient's indications on their dashboard row: the latest total (the PEG its score)
    with what the result itself says, and the change against the stored baseline by the instrument's own rule."""

    key: str
    name: str
    shown: str | None  # the latest total as the pages write it (PEG: the score to one decimal); None: no form yet
    completed_at: datetime | None
    flags: tuple[str, ...]  # the result's own words: a cut-point or screen (PCL-R7, AUDC-R5)
    baseline: str | None  # the baseline as written, or None
    change: str | None  # against the baseline, by the rule (PCL-R8, PEG-R4); None before a form after it
    meaningful: bool  # the change meets the instrument's rule (bold on the page)


@dataclass(frozen=True)
class RowQuestionnaires:
    """What a dashboard row adds for the questionnaires: a cell per instrument of the patient's indications, and
    which of all their instruments have no baseline, grouped by the reason (``baselines.REASONS``)."""

    cells: tuple[InstrumentCell, ...]
    no_baseline: tuple[tuple[str, tuple[str, ...]], ...]  # (reason in words, instrument names)


def _shown(definition: instruments.Instrument, total: int, scores: dict | None) -> str:
    if definition.chart_total == "score":  # PEG-R3: always one decimal
        from .scales import peg_tenths

        return f"{(scores or {}).get('score', peg_tenths(total) / 10):.1f}"
    return str(total)


def _result_flags(key: str, scores: dict | None) -> tuple[str, ...]:
    scores = scores or {}
    if key == "pcl5":  # PCL-R7: the two flags in their own words, never "PTSD"
        flags = []
        if scores.get("probable_ptsd"):
            flags.append(f"score at or above screening cut-point ({scores.get('cut_point')})")
        if scores.get("provisional_ptsd"):
            flags.append("provisional DSM-5 symptom pattern")
        return tuple(flags)
    if key == "auditc" and scores.get("positive") is not None:  # AUDC-R5, with the threshold used
        word = "positive" if scores["positive"] else "negative"
        return (f"{word} screen ({scores.get('threshold')} or more is positive)",)
    return ()


def _judged_change(definition: instruments.Instrument, baseline: int, total: int) -> tuple[str, bool]:
    """The latest form against the baseline in words, by the instrument's rule, and whether the rule is met."""
    judged = definition.judge(baseline, total)
    if definition.key == "pcl5":
        moved = f"{total - baseline:+d} from baseline"
        if judged["pcl_clinically_meaningful"]:
            return f"{moved}: clinically meaningful improvement", True
        if judged["pcl_response"]:
            return f"{moved}: response", True
        return (f"{moved}: worsening", True) if judged["worsening"] else (f"{moved}: no response yet", False)
    if definition.key == "peg":
        pct = judged["peg_pct_reduction"]
        if pct is None:
            return "no percentage from a baseline of 0", False
        moved = f"{abs(pct):g} % {'lower' if pct >= 0 else 'higher'} than baseline"
        return (f"{moved}: improved", True) if judged["peg_improved_30"] else (moved, False)
    return f"{total - baseline:+d} from baseline", False  # PACS and AUDIT-C define no change rule


def questionnaires(
    session: Session, rows: Sequence[TriageRow], now: datetime, given: dict[int, list[DosingSession]] | None = None
) -> dict[int, RowQuestionnaires]:
    """For the patients of one dashboard page: each questionnaire their indications add (PCL-5, PEG, AUDIT-C,
    PACS) with its latest result and change by its rule, and every one of their instruments without a stored
    baseline, with the reason (PHQ-R9's rule, as ``baselines.state`` gives it). One statement whatever the number
    of rows (two without ``given``, the rows' given sessions): each instrument's latest form with its stored
    baseline, and the forms in each patient's baseline window, which say whether the rule could choose one."""
    by_id = {row.patient_id: row for row in rows}
    ids = list(by_id)
    if given is None:
        given = given_sessions(session, ids)
    anchors = {patient_id: baselines.anchor(sessions) for patient_id, sessions in given.items() if patient_id in by_id}
    wanted = {row.patient_id: _instruments_of(row) for row in rows}
    latest: dict[tuple[int, str], tuple] = {}
    stored: set[tuple[int, str]] = set()  # a stored baseline is a form: the latest of its instrument joins it
    candidates: dict[int, list] = {}
    for form in session.execute(_page_forms_statement(ids, anchors)):
        if form.kind == "window":
            candidates.setdefault(form.patient_id, []).append(form)
            continue
        latest[form.patient_id, form.instrument] = form
        if form.baseline_id is not None:
            stored.add((form.patient_id, form.instrument))

    result = {}
    for patient_id, chosen in wanted.items():
        zone = ZoneInfo(by_id[patient_id].timezone)
        missing: dict[str, list[str]] = {}
        for definition in chosen:
            if (patient_id, definition.key) in stored:
                continue
            first = anchors.get(patient_id)
            if first is None:
                reason = baselines.NO_SESSION
            elif baselines.rule_choice(candidates.get(patient_id, []), first, definition.key, zone) is None:
                reason = baselines.NO_FORM
            else:
                reason = baselines.NOT_CHOSEN
            missing.setdefault(baselines.REASONS[reason], []).append(definition.name)
        cells = tuple(
            _instrument_cell(definition, latest.get((patient_id, definition.key)))
            for definition in chosen
            if definition.key in INDICATION_KEYS
        )
        result[patient_id] = RowQuestionnaires(cells, tuple((text, tuple(names)) for text, names in missing.items()))
    return result


def _page_forms_statement(ids: list[int], anchors: dict[int, DosingSession]) -> Select:
    """The latest scored form of every instrument (the clinic's PHQ-9 or PHQ-8, the GAD-7 and those of the
    indications) of each patient ``ids``, with its stored baseline (``kind`` "latest"); and, after them, every
    scored form in the days before each patient's anchoring session that the rule reads (``kind`` "window")."""
    pairs = [(Clinic.depression_instrument, "depression"), (GAD7, GAD7), *((key, key) for key in INDICATION_KEYS)]
    latest = _latest_forms_statement(ids, pairs).add_columns(literal_column("'latest'").label("kind"))
    # The days the rule reads: before the anchoring session, back past its first local day (zones differ).
    windows = [
        and_(
            Assessment.patient_id == patient_id,
            Assessment.completed_at < first.start,
            Assessment.completed_at >= first.start - timedelta(days=baselines.WINDOW_DAYS + 2),
        )
        for patient_id, first in anchors.items()
        if first is not None
    ]
    window = select(
        Assessment.id,
        Assessment.patient_id,
        Assessment.instrument,
        Assessment.total,
        Assessment.band,
        Assessment.scores,
        Assessment.completed_at,
        null().label("baseline_id"),
        null().label("baseline_total"),
        null().label("baseline_at"),
        literal_column("'window'").label("kind"),
    ).where(Assessment.total.is_not(None), or_(false(), *windows))
    return union_all(latest, window)


def _instruments_of(row: TriageRow) -> list[instruments.Instrument]:
    """``instruments.for_patient`` from the row's plain values (the rule stays in one place)."""
    from types import SimpleNamespace

    clinic = SimpleNamespace(depression_instrument=row.depression)
    return instruments.for_patient(SimpleNamespace(indications=row.indications, user=SimpleNamespace(clinic=clinic)))


def _instrument_cell(definition: instruments.Instrument, form) -> InstrumentCell:
    if form is None:
        return InstrumentCell(definition.key, definition.name, None, None, (), None, None, False)
    baseline = None
    change, meaningful = None, False
    if form.baseline_total is not None:
        baseline = _shown(definition, form.baseline_total, None)
        if (form.completed_at, form.id) > (form.baseline_at, form.baseline_id):  # measured forwards (PHQ-R9)
            change, meaningful = _judged_change(definition, form.baseline_total, form.total)
    return InstrumentCell(
        definition.key,
        definition.name,
        _shown(definition, form.total, form.scores),
        form.completed_at,
        _result_flags(definition.key, form.scores),
        baseline,
        change,
        meaningful,
    )


def _substance_use(reports: dict[str, dict[date, tuple[bool, None]]], today: date) -> tuple:
    """Percent days abstinent per substance over the same 14 days as adherence (the days before today)."""
    first = today - timedelta(days=analytics.ADHERENCE_DAYS)
    window = {code: {d: v for d, v in days.items() if first <= d < today} for code, days in sorted(reports.items())}
    figures = analytics.substance_use(window)
    return tuple((SUBSTANCES.get(f.substance, f.substance), f) for f in figures if f.reported_days)


@lru_cache(maxsize=8)
def _spark_days(today: date) -> tuple[date, ...]:
    """The sparkline's days ending today: patients share one of three or so todays, so this is worked out once."""
    return tuple(today - timedelta(days=n) for n in range(SPARK_DAYS - 1, -1, -1))


def _patients_statement(ids: Select, now: datetime, window_start: date) -> Select:
    """One row per patient: who they are, open alerts by severity, sessions, and their last check-in before the
    window of recent days."""
    open_alerts = (
        select(
            Alert.patient_id,
            *(func.sum(case((Alert.severity == severity, 1), else_=0)).label(severity) for severity in SEVERITIES),
            func.sum(case((Alert.kind == BOOSTER_REVIEW, 1), else_=0)).label("booster_review"),
        )
        .where(Alert.acknowledged_at.is_(None), Alert.patient_id.in_(ids))
        .group_by(Alert.patient_id)
        .subquery()
    )
    given = and_(DosingSession.status == SessionStatus.GIVEN, DosingSession.start <= now)
    planned = and_(DosingSession.status == SessionStatus.PLANNED, DosingSession.start > now)
    sessions = (
        select(
            DosingSession.patient_id,
            func.max(case((given, DosingSession.start))).label("last_given"),
            func.min(case((planned, DosingSession.start))).label("next_planned"),
        )
        .where(DosingSession.patient_id.in_(ids))
        .group_by(DosingSession.patient_id)
        .subquery()
    )
    earlier_checkin = (
        select(func.max(CheckIn.local_date))
        .where(CheckIn.patient_id == Patient.user_id, CheckIn.local_date < window_start)
        .scalar_subquery()
    )
    unseen_notes = (
        select(func.count(CheckIn.id))
        .where(CheckIn.patient_id == Patient.user_id, CheckIn.note != "", CheckIn.note_seen_at.is_(None))
        .scalar_subquery()
    )
    return (
        select(
            Patient.user_id,
            User.name,
            User.timezone,
            User.activated_at,
            *(open_alerts.c[severity] for severity in SEVERITIES),
            open_alerts.c.booster_review,
            sessions.c.last_given,
            sessions.c.next_planned,
            earlier_checkin.label("earlier_checkin"),
            unseen_notes.label("unseen_notes"),
            Patient.indications,
            Patient.tracks_pain,
            Clinic.depression_instrument,
        )
        .join(User, User.id == Patient.user_id)
        .join(Clinic, Clinic.id == User.clinic_id)
        .outerjoin(open_alerts, open_alerts.c.patient_id == Patient.user_id)
        .outerjoin(sessions, sessions.c.patient_id == Patient.user_id)
        .where(Patient.user_id.in_(ids))
    )


def _latest_forms_statement(ids: Select | list[int], pairs: Sequence[tuple] | None = None) -> Select:
    """Each patient's latest scored form of each instrument of ``pairs`` (the instrument, or a column naming it,
    with a label; by default their clinic's PHQ-9 or PHQ-8, SAFE-R4, and the GAD-7), with the stored baseline of
    each.

    The latest form is a correlated top-1 subquery per patient and instrument, which reads the end of the
    (patient, instrument, completed_at) index: its cost grows with the number of patients, not with their years
    of forms (a window function over every form measured three times slower at 20 forms a patient)."""

    def latest_id(instrument, label: str):
        return (
            select(Assessment.id)
            .where(
                Assessment.patient_id == Patient.user_id,
                Assessment.instrument == instrument,
                Assessment.total.is_not(None),
            )
            .order_by(Assessment.completed_at.desc(), Assessment.id.desc())
            .limit(1)
            .correlate(Patient, Clinic)
            .scalar_subquery()
            .label(label)
        )

    # The instrument is one value per patient either way, so the subquery still reads the end of the index.
    chosen = list(pairs) if pairs is not None else [(Clinic.depression_instrument, "depression"), (GAD7, GAD7)]
    latest = (
        select(Patient.user_id, *(latest_id(instrument, label) for instrument, label in chosen))
        .join(User, User.id == Patient.user_id)
        .join(Clinic, Clinic.id == User.clinic_id)
        .where(Patient.user_id.in_(ids))
        .subquery()
    )
    form, base = aliased(Assessment), aliased(Assessment)
    return (
        select(
            form.id,
            form.patient_id,
            form.instrument,
            form.total,
            form.band,
            form.scores,
            form.completed_at,
            base.id.label("baseline_id"),
            base.total.label("baseline_total"),
            base.completed_at.label("baseline_at"),
        )
        .select_from(latest)
        .join(form, form.id.in_([latest.c[label] for _, label in chosen]))
        .outerjoin(Baseline, and_(Baseline.patient_id == form.patient_id, Baseline.instrument == form.instrument))
        .outerjoin(base, base.id == Baseline.assessment_id)
    )


def _latest(row, instrument: str) -> LatestForm | None:
    if row is None:
        return None
    change = row.total - row.baseline_total if row.baseline_total is not None else None
    return LatestForm(row.total, row.band, row.completed_at, change, scoring.MCID[instrument], instrument)


def _outcome(phq9) -> analytics.Outcome:
    """PHQ-R9: response and remission of the latest PHQ-9, if it came after the stored baseline."""
    if phq9 is None:
        return analytics.outcome(None, None)
    after = phq9.baseline_id is not None and (phq9.completed_at, phq9.id) > (phq9.baseline_at, phq9.baseline_id)
    return analytics.outcome(phq9.baseline_total, phq9.total if after else None)


# --- The mood sparkline --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sparkline:
    """A small line of daily mood for an inline SVG: one path of line segments joining consecutive days (a
    missing day is a gap, never bridged), one path of dots (a zero-length segment with round caps) for every
    entry, and the sentence that stands in for it (its aria-label)."""

    width: int
    height: int
    line_path: str  # SVG path data; empty when no two entries are on consecutive days
    dot_path: str
    label: str


SPARK_HEIGHT = 24
SPARK_STEP = 6  # pixels between days
SPARK_PAD = 3
# The height of each mood 0..10, worked out once: a thousand rows draw a sparkline each.
_SPARK_Y = tuple(f"{SPARK_PAD + (SPARK_HEIGHT - 2 * SPARK_PAD) * (10 - mood) / 10:g}" for mood in range(11))


def sparkline(moods: Sequence[int | None]) -> Sparkline:
    """Mood 0 (worst) .. 10 (best), oldest first and today last; higher is drawn higher."""
    lines, dots = [], []
    previous, drawn = None, False  # the day before's point, and whether the line path already ends there
    for index, mood in enumerate(moods):
        if mood is None:
            previous, drawn = None, False
            continue
        point = f"{SPARK_PAD + index * SPARK_STEP},{_SPARK_Y[mood]}"
        dots.append(f"M{point}h0")
        if previous is not None:  # a lone day is only a dot: a move with no line after it draws nothing
            lines.append(f"L{point}" if drawn else f"M{previous}L{point}")
            drawn = True
        previous = point
    width = SPARK_PAD * 2 + SPARK_STEP * max(len(moods) - 1, 0)
    return Sparkline(width, SPARK_HEIGHT, "".join(lines), "".join(dots), mood_sentence(moods))


def mood_sentence(moods: Sequence[int | None]) -> str:
    """'Mood over the last 14 days, 0 worst to 10 best: 9 entries, from 3 to 7; latest 6, yesterday.'"""
    entries = [(len(moods) - 1 - index, mood) for index, mood in enumerate(moods) if mood is not None]
    heading = f"Mood over the last {len(moods)} days, 0 worst to 10 best"
    if not entries:
        return f"{heading}: no entries."
    values = [mood for _, mood in entries]
    ago, latest = entries[-1]
    when = "today" if ago == 0 else "yesterday" if ago == 1 else f"{ago} days ago"
    count = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
    spread = f", from {min(values)} to {max(values)}" if min(values) != max(values) else ""
    return f"{heading}: {count}{spread}; latest {latest}, {when}."


# --- The clinic overview -------------------------------------------------------------------------------------------

# Weeks since the first given session (whole weeks: week 0 is the first 7 days), as (first, last or None, label).
WEEK_BUCKETS: tuple[tuple[int, int | None, str], ...] = (
    (0, 2, "0–2"),
    (3, 4, "3–4"),
    (5, 8, "5–8"),
    (9, 12, "9–12"),
    (13, 26, "13–26"),
    (27, None, "27 or more"),
)
# PHQ-9 change from baseline in 5-point bins; changes of less than the MCID (5) either way share the middle bin,
# so every other bin is a clinically meaningful change (PHQ-R10). Negative is better. (low or None, high or None)
CHANGE_BINS: tuple[tuple[int | None, int | None, str], ...] = (
    (None, -20, "20 or more points lower (better)"),
    (-19, -15, "15 to 19 points lower"),
    (-14, -10, "10 to 14 points lower"),
    (-9, -5, "5 to 9 points lower"),
    (-4, 4, "Less than 5 points either way"),
    (5, 9, "5 to 9 points higher"),
    (10, 14, "10 to 14 points higher"),
    (15, None, "15 or more points higher (worse)"),
)


@dataclass(frozen=True)
class RateRow:
    """Response and remission among patients with a PHQ-9 in one band of weeks since their first session."""

    weeks: str
    patients: int | None  # None: withheld (fewer than the smallest count shown, 0 included)
    responders: int | None  # None with the rate when either it or the rest is a withheld count
    remitters: int | None
    response_pct: float | None  # None: no patients, or withheld
    remission_pct: float | None


@dataclass(frozen=True)
class ChangeBin:
    label: str
    low: int | None
    high: int | None
    patients: int | None  # None: suppressed
    meaningful: bool  # the whole bin is a change of at least the MCID

    @property
    def improved(self) -> bool:
        return self.meaningful and self.high is not None and self.high < 0


@dataclass(frozen=True)
class Overview:
    patients: int  # patients in scope
    with_baseline: int | None  # with a stored PHQ-9 baseline
    usual_baseline: int | None  # of those, a baseline of 10 or more: the denominator of the rates (SPEC 1.6)
    rates: list[RateRow]
    changes: list[ChangeBin]
    changes_total: int | None  # patients with a PHQ-9 after their baseline
    min_cell: int
    suppressed: bool  # whether any figure was withheld
    mcid: int = scoring.MCID[PHQ9]


def overview(session: Session, ids: Select, now: datetime, *, min_cell: int = 0) -> Overview:
    """Response and remission rates by weeks since the first given session, and the distribution of the PHQ-9
    change from baseline at the latest form, for the patients ``ids`` selects, in two SQL statements. Counts
    under ``min_cell``, 0 included, are withheld, and more where a total would reveal a withheld one."""
    counts = session.execute(_overview_counts_statement(ids)).one()
    forms = session.execute(_overview_forms_statement(ids, now)).all()

    by_bucket: dict[int, dict[int, tuple]] = {}  # bucket -> patient -> (order, total, baseline)
    latest: dict[int, tuple] = {}  # patient -> (order, total, baseline)
    for row in forms:
        order = (row.completed_at, row.id)
        if row.patient_id not in latest or order > latest[row.patient_id][0]:
            latest[row.patient_id] = (order, row.total, row.baseline_total)
        if row.first_given is None or row.completed_at < row.first_given or row.baseline_total < USUAL_BASELINE:
            continue
        bucket = _week_bucket((row.completed_at - row.first_given).days // 7)
        patients = by_bucket.setdefault(bucket, {})
        if row.patient_id not in patients or order > patients[row.patient_id][0]:
            patients[row.patient_id] = (order, row.total, row.baseline_total)

    withheld = False
    rates = []
    for index, (_, _, label) in enumerate(WEEK_BUCKETS):
        latest_in_bucket = by_bucket.get(index, {}).values()
        n = len(latest_in_bucket)
        responders = sum(1 for _, total, base in latest_in_bucket if scoring.response(base, total))
        remitters = sum(1 for _, total, _ in latest_in_bucket if scoring.remission(total))
        if n < min_cell:
            withheld = True
            rates.append(RateRow(label, None, None, None, None, None))
            continue
        # A rate gives away its count and the count of the others: both must be large enough (or 0).
        response = _rate(responders, n, min_cell)
        remission = _rate(remitters, n, min_cell)
        withheld = withheld or (n > 0 and None in (response, remission))
        rates.append(
            RateRow(
                label,
                n,
                responders if response is not None else None,
                remitters if remission is not None else None,
                response,
                remission,
            )
        )

    values = [0] * len(CHANGE_BINS)
    for _, total, base in latest.values():
        values[_change_bin(total - base)] += 1
    shown = suppress(values, min_cell)
    withheld = withheld or shown != values
    changes = [
        ChangeBin(label, low, high, count, _meaningful(low, high))
        for (low, high, label), count in zip(CHANGE_BINS, shown, strict=True)
    ]
    # The patients split three ways, whose total is shown: no baseline, a baseline under USUAL_BASELINE, and one
    # of USUAL_BASELINE or more. "With a baseline" is shown only when the first part is, since the total minus
    # it gives that part away; the same for "a baseline of 10 or more" and the second.
    usual = counts.usual_baseline or 0
    parts = suppress([counts.patients - counts.with_baseline, counts.with_baseline - usual, usual], min_cell)
    with_baseline = counts.with_baseline if parts[0] is not None else None
    changes_total = _cell(len(latest), min_cell)
    return Overview(
        patients=counts.patients,
        with_baseline=with_baseline,
        usual_baseline=parts[2],
        rates=rates,
        changes=changes,
        changes_total=changes_total,
        min_cell=min_cell,
        suppressed=withheld or None in (with_baseline, parts[2], changes_total),
    )


def _overview_counts_statement(ids: Select) -> Select:
    base = aliased(Assessment)
    return (
        select(
            func.count(Patient.user_id).label("patients"),
            func.count(Baseline.patient_id).label("with_baseline"),
            func.sum(case((base.total >= USUAL_BASELINE, 1), else_=0)).label("usual_baseline"),
        )
        .select_from(Patient)
        .join(User, User.id == Patient.user_id)
        .join(Clinic, Clinic.id == User.clinic_id)
        # SAFE-R4: the clinic's PHQ-9, or the PHQ-8 in its place, by the same rules.
        .outerjoin(
            Baseline,
            and_(Baseline.patient_id == Patient.user_id, Baseline.instrument == Clinic.depression_instrument),
        )
        .outerjoin(base, base.id == Baseline.assessment_id)
        .where(Patient.user_id.in_(ids))
    )


def _overview_forms_statement(ids: Select, now: datetime) -> Select:
    """Every scored PHQ-9 (the PHQ-8 in a SAFE-R4 clinic) after the patient's stored baseline, with the baseline
    total and the first given session."""
    first = (
        select(DosingSession.patient_id, func.min(DosingSession.start).label("first_given"))
        .where(
            DosingSession.patient_id.in_(ids),
            DosingSession.status == SessionStatus.GIVEN,
            DosingSession.start <= now,
        )
        .group_by(DosingSession.patient_id)
        .subquery()
    )
    base = aliased(Assessment)
    return (
        select(
            Assessment.id,
            Assessment.patient_id,
            Assessment.completed_at,
            Assessment.total,
            base.total.label("baseline_total"),
            first.c.first_given,
        )
        .join(User, User.id == Assessment.patient_id)
        .join(Clinic, Clinic.id == User.clinic_id)
        .join(
            Baseline,
            and_(Baseline.patient_id == Assessment.patient_id, Baseline.instrument == Clinic.depression_instrument),
        )
        .join(base, base.id == Baseline.assessment_id)
        .outerjoin(first, first.c.patient_id == Assessment.patient_id)
        .where(
            Assessment.patient_id.in_(ids),
            Assessment.instrument == Clinic.depression_instrument,
            Assessment.total.is_not(None),
            base.total.is_not(None),
            Assessment.completed_at <= now,
            or_(
                Assessment.completed_at > base.completed_at,
                and_(Assessment.completed_at == base.completed_at, Assessment.id > base.id),
            ),
        )
    )


def _week_bucket(weeks: int) -> int:
    return next(
        i for i, (first, last, _) in enumerate(WEEK_BUCKETS) if weeks >= first and (last is None or weeks <= last)
    )


def _change_bin(change: int) -> int:
    return next(
        i
        for i, (low, high, _) in enumerate(CHANGE_BINS)
        if (low is None or change >= low) and (high is None or change <= high)
    )


def _meaningful(low: int | None, high: int | None) -> bool:
    mcid = scoring.MCID[PHQ9]
    return (high is not None and high <= -mcid) or (low is not None and low >= mcid)


def _pct(part: int, whole: int) -> float | None:
    return analytics.half_up(Fraction(100 * part, whole)) if whole else None


def _rate(part: int, whole: int, min_cell: int) -> float | None:
    if _cell(part, min_cell) is None or _cell(whole - part, min_cell) is None:
        return None
    return _pct(part, whole)


def _cell(count: int, min_cell: int) -> int | None:
    # 0 is withheld like 1 to 4: a cell that goes from "0" to "fewer than 5" tells who just moved into it.
    return None if count < min_cell else count


def suppress(counts: Sequence[int], min_cell: int) -> list[int | None]:
    """Small-cell suppression of counts whose total is shown: every count under ``min_cell``, 0 included, becomes
    None. While the withheld counts are a single one, or add up to less than ``min_cell`` (the total minus the
    shown counts would give that sum away: 0 would say each is 0), the smallest shown count is withheld too."""
    shown: list[int | None] = [_cell(count, min_cell) for count in counts]
    while True:
        withheld = [i for i, value in enumerate(shown) if value is None]
        if not withheld or (len(withheld) > 1 and sum(counts[i] for i in withheld) >= min_cell):
            return shown
        others = [(count, i) for i, count in enumerate(counts) if shown[i] is not None]
        if not others:
            return shown  # everything is withheld; a total under min_cell is withheld by its own _cell
        shown[min(others)[1]] = None
