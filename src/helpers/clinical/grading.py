"""ASTCT consensus grading of CRS and ICANS from the raw bedside parameters.

Reference: Lee DW, Santomasso BD, Locke FL, et al. ASTCT consensus grading for
cytokine release syndrome and neurologic toxicity associated with immune
effector cells. *Biol Blood Marrow Transplant* 2019;25:625-638.

The consensus grades each syndrome by its **most severe parameter**: every
parameter (domain) is graded on its own and the overall grade is the highest
of them. The rules implemented here, domain by domain:

Cytokine release syndrome (CRS)
    * **Fever** — temperature >= 38 °C not attributable to any other cause —
      is required for every grade. Once a patient has CRS and has received
      antipyretic or anti-cytokine therapy (tocilizumab, corticosteroids),
      fever is no longer required: the grade is then driven by hypotension and
      hypoxia (``fever_masked=True``).
    * **Hypotension**: not needing a vasopressor -> grade 2; needing one
      vasopressor, with or without vasopressin (or vasopressin alone) -> 3;
      needing several vasopressors, vasopressin not counted -> 4.
    * **Hypoxia** (oxygen support): low-flow nasal cannula (<= 6 L/min) or
      blow-by -> 2; high-flow nasal cannula (> 6 L/min), facemask,
      non-rebreather or Venturi mask -> 3; positive pressure (CPAP, BiPAP,
      intubation and mechanical ventilation) -> 4.
    * Fever alone -> grade 1. Death due to CRS, no other cause being the
      principal factor -> grade 5.
    * Hypotension or hypoxia attributable to another cause does not count.
      Organ toxicities are graded with CTCAE and do not change the CRS grade.

Immune effector cell-associated neurotoxicity syndrome (ICANS)
    * **ICE score** (0-10; adults and children older than 12): 7-9 -> 1,
      3-6 -> 2, 0-2 -> 3; 10 is normal. (A score of 0 in an awake patient
      with global aphasia is grade 3; an unarousable patient is grade 4
      through the consciousness domain.) Children aged 12 or younger (and
      older patients with developmental delay) are assessed with the
      **CAPD** instead: 1-8 -> grade 1 (grade 2 only through consciousness),
      >= 9 -> grade 3.
    * **Depressed consciousness** not attributable to another cause (e.g.
      sedating drugs): awakens spontaneously -> 1; to voice -> 2; only to
      tactile stimulus -> 3; unarousable, or needs vigorous or repetitive
      tactile stimuli, stupor or coma -> 4.
    * **Seizure**: any clinical seizure, focal or generalised, that resolves
      rapidly, or non-convulsive seizures on EEG that resolve with
      intervention -> 3; life-threatening prolonged seizure (> 5 min) or
      repetitive seizures without return to baseline in between -> 4.
    * **Motor findings**: deep focal motor weakness (hemiparesis,
      paraparesis) -> 4. Tremor and myoclonus are graded with CTCAE and do
      not change the ICANS grade.
    * **Raised intracranial pressure / cerebral oedema**: focal/local oedema
      on neuroimaging -> 3; diffuse oedema, decerebrate or decorticate
      posturing, sixth cranial nerve palsy, papilloedema or Cushing's triad
      -> 4. Intracranial haemorrhage is not an ICANS feature and is excluded.
    * Death due to ICANS, no other cause being the principal factor -> 5.

Every function validates its input and raises :class:`ValueError` naming the
offending argument; nothing is guessed. Boundaries are applied to the values
as given (38.0 °C is fever, 37.99 °C is not; 6.0 L/min is low flow, 6.01 L/min
is high flow); round measurements the way your protocol does before grading.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Iterable, Optional, Union

import numpy as np
import pandas as pd

#: Fever: temperature at or above this (°C).
FEVER_THRESHOLD_C = 38.0
#: Nasal cannula oxygen up to and including this flow is "low flow" (L/min).
LOW_FLOW_MAX_L_MIN = 6.0
#: A seizure lasting longer than this (minutes) is "prolonged" (grade 4).
SEIZURE_PROLONGED_MIN = 5.0

#: Oxygen support -> CRS hypoxia grade. "nasal_cannula" needs a flow to decide low vs high flow.
OXYGEN_DEVICES = {
    "none": 0,
    "nasal_cannula": None,            # decided by oxygen_flow_l_min
    "low_flow_nasal_cannula": 2,
    "blow_by": 2,
    "high_flow_nasal_cannula": 3,
    "facemask": 3,
    "nonrebreather": 3,
    "venturi": 3,
    "cpap": 4,
    "bipap": 4,
    "mechanical_ventilation": 4,
}
#: Depressed level of consciousness -> ICANS grade.
CONSCIOUSNESS_LEVELS = {
    "awake": 0,
    "awakens_spontaneously": 1,
    "awakens_to_voice": 2,
    "awakens_to_tactile": 3,
    "unarousable": 4,  # or needs vigorous/repetitive tactile stimuli; stupor; coma
}
#: Seizure -> ICANS grade.
SEIZURE_TYPES = {
    "none": 0,
    "rapidly_resolving": 3,          # clinical, focal or generalised, resolving rapidly
    "nonconvulsive_resolved": 3,     # on EEG, resolving with intervention
    "prolonged_or_repetitive": 4,    # > 5 min, or repeated without return to baseline
}
#: Motor findings -> ICANS grade (tremor and myoclonus do not count).
MOTOR_FINDINGS = {
    "none": 0,
    "tremor_or_myoclonus": 0,
    "deep_focal_weakness": 4,        # hemiparesis, paraparesis
}
#: Raised intracranial pressure / cerebral oedema -> ICANS grade.
EDEMA_FINDINGS = {
    "none": 0,
    "intracranial_hemorrhage": 0,    # excluded from ICANS grading
    "focal_edema": 3,
    "diffuse_edema": 4,
    "posturing": 4,                  # decerebrate or decorticate
    "cranial_nerve_vi_palsy": 4,
    "papilledema": 4,
    "cushing_triad": 4,
}


@dataclass(frozen=True)
class Grade:
    """The consensus grade, the grade of every domain and what decided it."""

    syndrome: str                     # "CRS" or "ICANS"
    grade: int                        # 0 (absent) to 5
    domains: dict = field(default_factory=dict)   # domain -> grade of that domain alone
    decided_by: tuple = ()            # the domain(s) that set the grade
    reason: str = ""

    def __int__(self) -> int:
        return self.grade


# ----------------------------------------------------------------- checks --

def _flag(value, name: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {value!r}")


def _count(value, name: str, maximum: Optional[int] = None) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a whole number, got the boolean {value!r}")
    if not isinstance(value, numbers.Real) or not math.isfinite(float(value)) \
            or float(value) != math.floor(float(value)) or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value!r}")
    return int(value)


def _number(value, name: str, low: float, high: float, hint: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not (low <= float(value) <= high):
        raise ValueError(f"{name} must be between {low:g} and {high:g}, got {value!r}{hint}")
    return float(value)


def _choice(value, name: str, allowed: dict) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


def _decide(domains: dict, floor: int = 0) -> tuple[int, tuple]:
    grade = max([floor, *domains.values()])
    decided = tuple(d for d, g in domains.items() if g == grade and g > 0)
    return grade, decided


# -------------------------------------------------------------------- CRS --

def grade_crs(*, temperature_c: Optional[float], hypotension: bool = False, vasopressors: int = 0,
              vasopressin: bool = False, oxygen_device: str = "none",
              oxygen_flow_l_min: Optional[float] = None, fever_other_cause: bool = False,
              fever_masked: bool = False, hypotension_other_cause: bool = False,
              hypoxia_other_cause: bool = False, died_of_crs: bool = False) -> Grade:
    """ASTCT CRS grade (0-5) from one assessment's raw parameters.

    Parameters
    ----------
    temperature_c : float or None
        Highest temperature (°C) of the assessment; None when not measured.
        Values above 45 are refused (a Fahrenheit reading?).
    hypotension : bool
        Hypotension present (age-appropriate definition of your protocol).
    vasopressors : int
        Number of vasopressors *other than vasopressin* needed for it.
    vasopressin : bool
        Vasopressin given (it does not count towards "multiple vasopressors").
    oxygen_device : str
        Oxygen support, one of :data:`OXYGEN_DEVICES`. ``"nasal_cannula"``
        needs ``oxygen_flow_l_min`` (<= 6 L/min low flow, > 6 high flow).
    oxygen_flow_l_min : float, optional
        Oxygen flow; checked against the device when both are given.
    fever_other_cause : bool
        The fever is attributable to another cause (e.g. documented
        infection): it does not count as CRS fever.
    fever_masked : bool
        The patient already has CRS and received antipyretic or anti-cytokine
        therapy (tocilizumab, corticosteroids): fever is no longer required
        and the grade follows hypotension and hypoxia (at least grade 1,
        because the patient still has CRS).
    hypotension_other_cause, hypoxia_other_cause : bool
        The finding is attributable to another cause and does not count.
    died_of_crs : bool
        Death due to CRS, no other cause being the principal factor (grade 5).

    Returns
    -------
    Grade
        ``grade`` (0 = no CRS), ``domains`` (fever, hypotension, hypoxia) and
        ``decided_by``.

    Examples
    --------
    >>> grade_crs(temperature_c=39.2, hypotension=True, vasopressors=1,
    ...           oxygen_device="nasal_cannula", oxygen_flow_l_min=2).grade
    3
    """
    if temperature_c is not None:
        temperature_c = _number(temperature_c, "temperature_c", 25.0, 45.0,
                                " (is it in °F? convert to °C first)")
    hypotension = _flag(hypotension, "hypotension")
    vasopressors = _count(vasopressors, "vasopressors", maximum=10)
    vasopressin = _flag(vasopressin, "vasopressin")
    oxygen_device = _choice(oxygen_device, "oxygen_device", OXYGEN_DEVICES)
    for name, value in (("fever_other_cause", fever_other_cause), ("fever_masked", fever_masked),
                        ("hypotension_other_cause", hypotension_other_cause),
                        ("hypoxia_other_cause", hypoxia_other_cause), ("died_of_crs", died_of_crs)):
        _flag(value, name)
    if (vasopressors > 0 or vasopressin) and not hypotension:
        raise ValueError(f"vasopressors={vasopressors}, vasopressin={vasopressin} but hypotension=False: "
                         "vasopressor support implies hypotension; record hypotension=True")

    # hypoxia: the device, and the flow where it decides low vs high flow
    if oxygen_flow_l_min is not None:
        oxygen_flow_l_min = _number(oxygen_flow_l_min, "oxygen_flow_l_min", 0.0, 80.0)
    oxygen_grade = OXYGEN_DEVICES[oxygen_device]
    if oxygen_device == "nasal_cannula":
        if oxygen_flow_l_min is None:
            raise ValueError("oxygen_device='nasal_cannula' needs oxygen_flow_l_min: "
                             f"<= {LOW_FLOW_MAX_L_MIN:g} L/min is low flow (grade 2), more is high flow (grade 3)")
        oxygen_grade = 2 if oxygen_flow_l_min <= LOW_FLOW_MAX_L_MIN else 3
    elif oxygen_device == "low_flow_nasal_cannula" and oxygen_flow_l_min is not None \
            and oxygen_flow_l_min > LOW_FLOW_MAX_L_MIN:
        raise ValueError(f"low_flow_nasal_cannula at {oxygen_flow_l_min:g} L/min: low flow means "
                         f"<= {LOW_FLOW_MAX_L_MIN:g} L/min")
    elif oxygen_device == "high_flow_nasal_cannula" and oxygen_flow_l_min is not None \
            and oxygen_flow_l_min <= LOW_FLOW_MAX_L_MIN:
        raise ValueError(f"high_flow_nasal_cannula at {oxygen_flow_l_min:g} L/min: high flow means "
                         f"> {LOW_FLOW_MAX_L_MIN:g} L/min")
    elif oxygen_device == "none" and oxygen_flow_l_min not in (None, 0, 0.0):
        raise ValueError(f"oxygen_device='none' but oxygen_flow_l_min={oxygen_flow_l_min!r}")
    if hypoxia_other_cause:
        oxygen_grade = 0

    if vasopressors >= 2:
        hypotension_grade = 4
    elif vasopressors == 1 or vasopressin:
        hypotension_grade = 3
    elif hypotension:
        hypotension_grade = 2
    else:
        hypotension_grade = 0
    if hypotension_other_cause:
        hypotension_grade = 0

    fever = temperature_c is not None and temperature_c >= FEVER_THRESHOLD_C and not fever_other_cause
    domains = {"fever": 1 if fever else 0, "hypotension": hypotension_grade, "hypoxia": oxygen_grade}

    if died_of_crs:
        return Grade("CRS", 5, domains, ("death",), "death due to CRS")
    if not (fever or fever_masked):
        why = ("no temperature recorded" if temperature_c is None else
               "fever attributed to another cause" if (temperature_c >= FEVER_THRESHOLD_C) else
               f"temperature {temperature_c:g} °C is below {FEVER_THRESHOLD_C:g} °C")
        extra = " (hypotension/hypoxia without CRS fever are not graded as CRS)" \
            if hypotension_grade or oxygen_grade else ""
        return Grade("CRS", 0, domains, (), f"no CRS: {why}{extra}")
    grade, decided = _decide(domains, floor=1)
    if fever_masked and not fever:
        reason = "fever masked by treatment: graded on hypotension and hypoxia"
        decided = decided or ("ongoing CRS",)
    else:
        reason = "graded by the most severe parameter"
    return Grade("CRS", grade, domains, decided, reason)


# ------------------------------------------------------------------ ICANS --

def ice_score(*, orientation: int, naming: int, commands: int, writing: int, attention: int) -> int:
    """The 10-point ICE score from its five items.

    orientation: year, month, city, hospital (0-4); naming three objects (0-3);
    following simple commands (0-1); writing a standard sentence (0-1);
    attention, counting backwards from 100 by 10 (0-1).
    """
    return (_count(orientation, "orientation", 4) + _count(naming, "naming", 3)
            + _count(commands, "commands", 1) + _count(writing, "writing", 1)
            + _count(attention, "attention", 1))


def assessment_tool(age_years: float, developmental_delay: bool = False) -> str:
    """Which encephalopathy tool the consensus uses: ``"ICE"`` for patients older
    than 12, ``"CAPD"`` for children aged 12 or younger (age below 13) and for
    older patients with developmental delay."""
    age = _number(age_years, "age_years", 0.0, 120.0)
    return "CAPD" if age < 13 or _flag(developmental_delay, "developmental_delay") else "ICE"


def _findings(value, name: str, allowed: dict) -> list[str]:
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else None
    if items is None or not items:
        raise ValueError(f"{name} must be one of {sorted(allowed)} (or a list of them), got {value!r}")
    return [_choice(item, name, allowed) for item in items]


def grade_icans(*, ice: Optional[int] = None, capd: Optional[int] = None, consciousness: str = "awake",
                consciousness_other_cause: bool = False, seizure: str = "none",
                seizure_minutes: Optional[float] = None,
                motor: Union[str, Iterable[str]] = "none",
                cerebral_edema: Union[str, Iterable[str]] = "none",
                died_of_icans: bool = False) -> Grade:
    """ASTCT ICANS grade (0-5) from one assessment's raw parameters.

    Parameters
    ----------
    ice : int, optional
        ICE score 0-10 (patients older than 12); see :func:`ice_score`.
    capd : int, optional
        CAPD score 0-32 (children aged 12 or younger). Give ICE or CAPD, not both;
        with neither (e.g. an unarousable patient) the other domains decide.
    consciousness : str
        One of :data:`CONSCIOUSNESS_LEVELS`.
    consciousness_other_cause : bool
        Depressed consciousness explained by something else (e.g. sedation).
    seizure : str
        One of :data:`SEIZURE_TYPES`.
    seizure_minutes : float, optional
        Duration of the seizure; longer than 5 minutes is grade 4.
    motor, cerebral_edema : str or list of str
        Findings from :data:`MOTOR_FINDINGS` and :data:`EDEMA_FINDINGS`.
    died_of_icans : bool
        Death due to ICANS, no other cause being the principal factor (grade 5).

    Examples
    --------
    >>> grade_icans(ice=3, seizure="rapidly_resolving").grade   # the consensus example
    3
    """
    if ice is not None and capd is not None:
        raise ValueError("give either an ICE score (age > 12) or a CAPD score (age <= 12), not both")
    domains: dict[str, int] = {}
    if ice is not None:
        score = _count(ice, "ice", maximum=10)
        domains["ICE"] = 0 if score == 10 else 1 if score >= 7 else 2 if score >= 3 else 3
    if capd is not None:
        score = _count(capd, "capd", maximum=32)
        domains["CAPD"] = 0 if score == 0 else 1 if score <= 8 else 3
    level = _choice(consciousness, "consciousness", CONSCIOUSNESS_LEVELS)
    domains["consciousness"] = 0 if _flag(consciousness_other_cause, "consciousness_other_cause") \
        else CONSCIOUSNESS_LEVELS[level]
    kind = _choice(seizure, "seizure", SEIZURE_TYPES)
    seizure_grade = SEIZURE_TYPES[kind]
    if seizure_minutes is not None:
        minutes = _number(seizure_minutes, "seizure_minutes", 0.0, 24 * 60.0)
        if kind == "none":
            raise ValueError(f"seizure_minutes={seizure_minutes!r} given but seizure='none'")
        if minutes > SEIZURE_PROLONGED_MIN:
            seizure_grade = 4
    domains["seizure"] = seizure_grade
    domains["motor"] = max(MOTOR_FINDINGS[f] for f in _findings(motor, "motor", MOTOR_FINDINGS))
    domains["cerebral_edema"] = max(EDEMA_FINDINGS[f] for f in
                                    _findings(cerebral_edema, "cerebral_edema", EDEMA_FINDINGS))
    if _flag(died_of_icans, "died_of_icans"):
        return Grade("ICANS", 5, domains, ("death",), "death due to ICANS")
    grade, decided = _decide(domains)
    return Grade("ICANS", grade, domains, decided,
                 "graded by the most severe domain" if grade else "no ICANS")


# ----------------------------------------------------- day-by-day courses --

CRS_COURSE_COLUMNS = ("patient_id", "day", "temperature_c")
_CRS_OPTIONAL = {"hypotension": False, "vasopressors": 0, "vasopressin": False, "oxygen_device": "none",
                 "oxygen_flow_l_min": None, "fever_other_cause": False, "hypotension_other_cause": False,
                 "hypoxia_other_cause": False, "died_of_crs": False, "anticytokine_given": False}


def _clean(value, default):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    if hasattr(value, "item"):
        value = value.item()
    return value


def _check_course(frame: pd.DataFrame, required: Iterable[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} is missing columns {missing}")
    repeated = frame.duplicated(["patient_id", "day"])
    if repeated.any():
        raise ValueError(f"{what} has {int(repeated.sum())} repeated (patient_id, day) rows; "
                         "give one assessment per patient and day (the worst of the day)")


def grade_crs_course(observations: pd.DataFrame) -> pd.DataFrame:
    """Grade every daily assessment of a CRS course and return them with a ``grade`` column.

    ``observations`` has one row per patient and day with ``patient_id``,
    ``day`` and ``temperature_c``, and optionally the other arguments of
    :func:`grade_crs` as columns plus ``anticytokine_given`` (tocilizumab,
    corticosteroids or antipyretics given that day).

    The fever rule over time is applied per patient: while a CRS episode is
    ongoing and anti-cytokine or antipyretic therapy has started, a day with
    hypotension or hypoxia no longer needs fever (``fever_masked`` is set
    for an afebrile day graded this way; the column is returned). A day with none of fever, hypotension
    and hypoxia ends the episode (grade 0); a later episode needs fever again
    to start.
    """
    _check_course(observations, CRS_COURSE_COLUMNS, "observations")
    rows = []
    for patient, part in observations.sort_values(["patient_id", "day"]).groupby("patient_id", sort=False):
        ongoing = treated = False
        for _, row in part.iterrows():
            args = {k: _clean(row.get(k), d) for k, d in _CRS_OPTIONAL.items()}
            given_today = bool(args.pop("anticytokine_given"))
            treated = treated or given_today
            findings = grade_crs(temperature_c=_clean(row["temperature_c"], None), fever_masked=True, **args)
            has_findings = findings.domains["hypotension"] > 0 or findings.domains["hypoxia"] > 0
            masked = ongoing and treated and has_findings and findings.domains["fever"] == 0
            result = grade_crs(temperature_c=_clean(row["temperature_c"], None), fever_masked=masked, **args)
            ongoing = result.grade >= 1
            rows.append({**row.to_dict(), "fever_masked": masked, "grade": result.grade,
                         "decided_by": ", ".join(result.decided_by)})
    return pd.DataFrame(rows)


def grade_icans_course(observations: pd.DataFrame) -> pd.DataFrame:
    """Grade every daily ICANS assessment (columns: ``patient_id``, ``day`` and any
    arguments of :func:`grade_icans`); returns them with a ``grade`` column."""
    _check_course(observations, ("patient_id", "day"), "observations")
    names = ("ice", "capd", "consciousness", "consciousness_other_cause", "seizure", "seizure_minutes",
             "motor", "cerebral_edema", "died_of_icans")
    defaults = {"consciousness": "awake", "consciousness_other_cause": False, "seizure": "none",
                "motor": "none", "cerebral_edema": "none", "died_of_icans": False}
    rows = []
    for _, row in observations.sort_values(["patient_id", "day"]).iterrows():
        args = {n: _clean(row.get(n), defaults.get(n)) for n in names if n in row.index}
        result = grade_icans(**args)
        rows.append({**row.to_dict(), "grade": result.grade, "decided_by": ", ".join(result.decided_by)})
    return pd.DataFrame(rows)


def summarise_course(graded: pd.DataFrame) -> pd.DataFrame:
    """Per patient: highest grade, onset (first day graded >= 1), last day graded
    >= 1, and duration = last - onset + 1 days (daily assessments assumed);
    patients never graded >= 1 get grade 0 and empty onset/duration."""
    if "grade" not in graded.columns:
        raise ValueError("graded must be the output of grade_crs_course/grade_icans_course (no 'grade' column)")
    out = []
    for patient, part in graded.groupby("patient_id", sort=True):
        active = part.loc[part["grade"] >= 1, "day"]
        onset = float(active.min()) if len(active) else math.nan
        last = float(active.max()) if len(active) else math.nan
        out.append({"patient_id": patient, "max_grade": int(part["grade"].max()), "onset_day": onset,
                    "last_day": last, "duration_days": last - onset + 1 if len(active) else math.nan,
                    "days_assessed": len(part)})
    return pd.DataFrame(out)


ROMAN = {0: "0", 1: "I", 2: "II", 3: "III", 4: "IV", 5: "V"}


def roman(grade: int) -> str:
    """A grade as papers print it in Roman numerals ("II")."""
    return ROMAN[_count(grade, "grade", maximum=5)]
