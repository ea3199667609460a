"""helpers.clinical.grading against the ASTCT consensus definitions (Lee et al., BBMT 2019;25:625-638).

The expected grades are read off the consensus tables, not off the code: each
test names the row of the table (or the footnote) it checks. Every boundary
is tested on both sides: 37.99/38.0 °C; no / one / several vasopressors;
6.0/6.01 L/min; every oxygen device; ICE 10/9, 7/6, 3/2, 0; CAPD 0/1, 8/9;
every consciousness level; seizures at 5.0/5.01 minutes; each motor and
oedema finding; and the rule that fever not attributable to another cause
is needed for CRS.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from helpers import clinical
from helpers.clinical import grade_crs, grade_icans


def crs(**kw) -> int:
    kw.setdefault("temperature_c", 38.5)
    return grade_crs(**kw).grade


# ------------------------------------------------------------- CRS: fever --

@pytest.mark.parametrize("temperature, expected", [
    (36.8, 0), (37.9, 0), (37.99, 0),      # below the fever threshold: no CRS
    (38.0, 1), (38.01, 1), (40.5, 1),      # "temperature >= 38 °C": grade 1 with nothing else
])
def test_fever_threshold_is_38_degrees_inclusive(temperature, expected):
    assert crs(temperature_c=temperature) == expected


def test_no_temperature_means_no_crs():
    assert crs(temperature_c=None) == 0


@pytest.mark.parametrize("kw", [
    dict(hypotension=True),
    dict(hypotension=True, vasopressors=1),
    dict(hypotension=True, vasopressors=3),
    dict(oxygen_device="nasal_cannula", oxygen_flow_l_min=4),
    dict(oxygen_device="facemask"),
    dict(oxygen_device="mechanical_ventilation"),
])
def test_fever_is_required_hypotension_or_hypoxia_alone_are_not_crs(kw):
    result = grade_crs(temperature_c=37.2, **kw)
    assert result.grade == 0
    assert "not graded as CRS" in result.reason


@pytest.mark.parametrize("kw", [dict(), dict(hypotension=True, vasopressors=2),
                                dict(oxygen_device="cpap")])
def test_fever_attributable_to_another_cause_does_not_count(kw):
    """Fever must not be attributable to any other cause (e.g. infection)."""
    assert crs(temperature_c=39.5, fever_other_cause=True, **kw) == 0


def test_after_tocilizumab_or_steroids_fever_is_no_longer_required():
    """Patients with CRS who received anti-cytokine therapy are graded on hypotension/hypoxia."""
    assert crs(temperature_c=37.0, fever_masked=True, hypotension=True, vasopressors=1) == 3
    assert crs(temperature_c=None, fever_masked=True, oxygen_device="bipap") == 4
    assert crs(temperature_c=36.9, fever_masked=True, oxygen_device="blow_by") == 2
    # still CRS (grade 1) when the caller says CRS is ongoing but there is no hypotension/hypoxia
    assert crs(temperature_c=36.9, fever_masked=True) == 1


# ------------------------------------------------------- CRS: hypotension --

@pytest.mark.parametrize("kw, expected", [
    (dict(), 1),                                                   # fever only
    (dict(hypotension=True), 2),                                   # not requiring vasopressors
    (dict(hypotension=True, vasopressors=1), 3),                   # a vasopressor ...
    (dict(hypotension=True, vasopressors=1, vasopressin=True), 3),  # ... with or without vasopressin
    (dict(hypotension=True, vasopressin=True), 3),                 # vasopressin alone: one vasopressor
    (dict(hypotension=True, vasopressors=2), 4),                   # multiple vasopressors
    (dict(hypotension=True, vasopressors=2, vasopressin=True), 4),
    (dict(hypotension=True, vasopressors=4), 4),
])
def test_hypotension_grades(kw, expected):
    assert crs(**kw) == expected


def test_vasopressin_does_not_count_towards_multiple_vasopressors():
    """'Multiple vasopressors (excluding vasopressin)': one vasopressor + vasopressin stays grade 3."""
    assert crs(hypotension=True, vasopressors=1, vasopressin=True) == 3


# ---------------------------------------------------------- CRS: hypoxia --

@pytest.mark.parametrize("device, flow, expected", [
    ("none", None, 1),
    ("nasal_cannula", 0.5, 2),
    ("nasal_cannula", 6.0, 2),        # low flow is <= 6 L/min
    ("nasal_cannula", 6.01, 3),       # high flow is > 6 L/min
    ("nasal_cannula", 15, 3),
    ("low_flow_nasal_cannula", None, 2),
    ("low_flow_nasal_cannula", 6.0, 2),
    ("blow_by", None, 2),
    ("high_flow_nasal_cannula", None, 3),
    ("high_flow_nasal_cannula", 40, 3),
    ("facemask", None, 3),
    ("nonrebreather", None, 3),
    ("venturi", None, 3),
    ("cpap", None, 4),
    ("bipap", None, 4),
    ("mechanical_ventilation", None, 4),
])
def test_hypoxia_grades(device, flow, expected):
    assert crs(oxygen_device=device, oxygen_flow_l_min=flow) == expected


# ------------------------------------------- CRS: the most severe decides --

def test_consensus_example_single_vasopressor_and_low_flow_is_grade_3():
    """The consensus example: fever, one vasopressor and low-flow nasal cannula -> grade 3."""
    result = grade_crs(temperature_c=39.0, hypotension=True, vasopressors=1,
                       oxygen_device="nasal_cannula", oxygen_flow_l_min=3)
    assert result.grade == 3
    assert result.decided_by == ("hypotension",)
    assert result.domains == {"fever": 1, "hypotension": 3, "hypoxia": 2}


@pytest.mark.parametrize("kw, expected, decided", [
    (dict(hypotension=True, oxygen_device="cpap"), 4, ("hypoxia",)),
    (dict(hypotension=True, vasopressors=2, oxygen_device="blow_by"), 4, ("hypotension",)),
    (dict(hypotension=True, vasopressors=1, oxygen_device="venturi"), 3, ("hypotension", "hypoxia")),
    (dict(hypotension=True, oxygen_device="nasal_cannula", oxygen_flow_l_min=2), 2,
     ("hypotension", "hypoxia")),
])
def test_crs_grade_is_the_most_severe_parameter(kw, expected, decided):
    result = grade_crs(temperature_c=38.4, **kw)
    assert result.grade == expected
    assert result.decided_by == decided


def test_findings_with_another_cause_do_not_count():
    assert crs(hypotension=True, vasopressors=2, hypotension_other_cause=True) == 1
    assert crs(oxygen_device="mechanical_ventilation", hypoxia_other_cause=True) == 1
    assert crs(hypotension=True, oxygen_device="cpap", hypoxia_other_cause=True) == 2


def test_death_due_to_crs_is_grade_5():
    assert crs(died_of_crs=True, hypotension=True, vasopressors=3) == 5


@pytest.mark.parametrize("kw, message", [
    (dict(temperature_c=101.3), "°F"),
    (dict(temperature_c=float("nan")), "temperature_c"),
    (dict(temperature_c="39"), "temperature_c"),
    (dict(vasopressors=-1, hypotension=True), "vasopressors"),
    (dict(vasopressors=1.5, hypotension=True), "vasopressors"),
    (dict(vasopressors=True, hypotension=True), "vasopressors"),
    (dict(vasopressors=1), "implies hypotension"),
    (dict(vasopressin=True), "implies hypotension"),
    (dict(hypotension="yes"), "hypotension"),
    (dict(oxygen_device="mask"), "oxygen_device"),
    (dict(oxygen_device="nasal_cannula"), "needs oxygen_flow_l_min"),
    (dict(oxygen_device="high_flow_nasal_cannula", oxygen_flow_l_min=4), "high flow means"),
    (dict(oxygen_device="low_flow_nasal_cannula", oxygen_flow_l_min=8), "low flow means"),
    (dict(oxygen_device="none", oxygen_flow_l_min=2), "oxygen_device='none'"),
    (dict(fever_masked=1), "fever_masked"),
])
def test_bad_crs_input_is_refused_with_its_name(kw, message):
    kw.setdefault("temperature_c", 38.5)
    with pytest.raises(ValueError, match=message):
        grade_crs(**kw)


def test_numpy_scalars_are_accepted():
    assert grade_crs(temperature_c=np.float64(38.0), hypotension=np.bool_(True),
                     vasopressors=np.int64(2)).grade == 4


# -------------------------------------------------------------- ICANS ------

@pytest.mark.parametrize("score, expected", [
    (10, 0),                 # normal
    (9, 1), (8, 1), (7, 1),  # 7-9: grade 1
    (6, 2), (4, 2), (3, 2),  # 3-6: grade 2
    (2, 3), (1, 3), (0, 3),  # 0-2: grade 3 (0 in an awake patient with global aphasia)
])
def test_ice_score_bands(score, expected):
    assert grade_icans(ice=score).grade == expected


def test_ice_zero_is_grade_4_when_unarousable():
    """Footnote: ICE 0 is grade 3 if awake with global aphasia, grade 4 if unarousable."""
    assert grade_icans(ice=0, consciousness="awake").grade == 3
    assert grade_icans(ice=0, consciousness="unarousable").grade == 4
    assert grade_icans(ice=None, consciousness="unarousable").grade == 4


@pytest.mark.parametrize("score, consciousness, expected", [
    (0, "awake", 0),
    (1, "awake", 1), (8, "awake", 1),              # CAPD 1-8: grade 1 ...
    (8, "awakens_to_voice", 2),                    # ... grade 2 only through consciousness
    (9, "awake", 3), (20, "awake", 3),             # CAPD >= 9: grade 3
    (12, "unarousable", 4),
])
def test_capd_bands_for_children(score, consciousness, expected):
    assert grade_icans(capd=score, consciousness=consciousness).grade == expected


@pytest.mark.parametrize("level, expected", [
    ("awake", 0), ("awakens_spontaneously", 1), ("awakens_to_voice", 2),
    ("awakens_to_tactile", 3), ("unarousable", 4),
])
def test_consciousness_levels(level, expected):
    assert grade_icans(ice=10, consciousness=level).grade == expected


def test_depressed_consciousness_from_sedation_does_not_count():
    assert grade_icans(ice=10, consciousness="awakens_to_tactile", consciousness_other_cause=True).grade == 0


@pytest.mark.parametrize("kind, minutes, expected", [
    ("none", None, 0),
    ("rapidly_resolving", None, 3),
    ("rapidly_resolving", 5.0, 3),        # up to 5 minutes is not "prolonged"
    ("rapidly_resolving", 5.01, 4),       # > 5 min: life-threatening prolonged seizure
    ("nonconvulsive_resolved", None, 3),
    ("prolonged_or_repetitive", None, 4),
    ("prolonged_or_repetitive", 2.0, 4),  # repetitive without return to baseline
])
def test_seizures(kind, minutes, expected):
    assert grade_icans(ice=10, seizure=kind, seizure_minutes=minutes).grade == expected


@pytest.mark.parametrize("finding, expected", [
    ("none", 0), ("tremor_or_myoclonus", 0), ("deep_focal_weakness", 4),
])
def test_motor_findings(finding, expected):
    """Tremor and myoclonus are graded by CTCAE and do not influence the ICANS grade."""
    assert grade_icans(ice=10, motor=finding).grade == expected


@pytest.mark.parametrize("finding, expected", [
    ("none", 0), ("intracranial_hemorrhage", 0), ("focal_edema", 3), ("diffuse_edema", 4),
    ("posturing", 4), ("cranial_nerve_vi_palsy", 4), ("papilledema", 4), ("cushing_triad", 4),
])
def test_raised_icp_and_cerebral_edema(finding, expected):
    assert grade_icans(ice=10, cerebral_edema=finding).grade == expected


def test_several_edema_findings_take_the_worst():
    assert grade_icans(ice=9, cerebral_edema=["focal_edema", "papilledema"]).grade == 4


def test_consensus_example_ice_3_with_generalised_seizure_is_grade_3():
    result = grade_icans(ice=3, seizure="rapidly_resolving")
    assert result.grade == 3 and result.decided_by == ("seizure",)
    assert result.domains["ICE"] == 2


def test_icans_grade_is_the_most_severe_domain():
    result = grade_icans(ice=8, consciousness="awakens_to_voice", cerebral_edema="focal_edema")
    assert result.grade == 3 and result.decided_by == ("cerebral_edema",)
    assert grade_icans(ice=2, motor="deep_focal_weakness").grade == 4


def test_death_due_to_icans_is_grade_5():
    assert grade_icans(ice=0, consciousness="unarousable", died_of_icans=True).grade == 5


@pytest.mark.parametrize("kw, message", [
    (dict(ice=11), "ice"), (dict(ice=-1), "ice"), (dict(ice=7.5), "ice"),
    (dict(capd=33), "capd"),
    (dict(ice=5, capd=5), "not both"),
    (dict(consciousness="drowsy"), "consciousness"),
    (dict(seizure="generalised"), "seizure"),
    (dict(seizure="none", seizure_minutes=3), "seizure='none'"),
    (dict(seizure="rapidly_resolving", seizure_minutes=-2), "seizure_minutes"),
    (dict(motor="hemiparesis"), "motor"),
    (dict(cerebral_edema=[]), "cerebral_edema"),
    (dict(cerebral_edema=["focal_edema", "swelling"]), "cerebral_edema"),
])
def test_bad_icans_input_is_refused_with_its_name(kw, message):
    with pytest.raises(ValueError, match=message):
        grade_icans(**kw)


def test_ice_score_from_items():
    assert clinical.ice_score(orientation=4, naming=3, commands=1, writing=1, attention=1) == 10
    assert clinical.ice_score(orientation=2, naming=3, commands=1, writing=0, attention=0) == 6
    with pytest.raises(ValueError, match="orientation"):
        clinical.ice_score(orientation=5, naming=3, commands=1, writing=1, attention=1)
    with pytest.raises(ValueError, match="attention"):
        clinical.ice_score(orientation=4, naming=3, commands=1, writing=1, attention=2)


@pytest.mark.parametrize("age, delay, tool", [
    (4, False, "CAPD"), (12.0, False, "CAPD"), (12.9, False, "CAPD"),   # 12 or younger
    (13.0, False, "ICE"), (45, False, "ICE"), (30, True, "CAPD"),
])
def test_assessment_tool_by_age(age, delay, tool):
    assert clinical.assessment_tool(age, delay) == tool


# ------------------------------------------------------------ courses ------

def test_crs_course_applies_the_fever_rule_over_time():
    days = pd.DataFrame({
        "patient_id": ["A"] * 6,
        "day": [1, 2, 3, 4, 5, 6],
        "temperature_c": [39.1, 39.6, 37.2, 36.9, 36.8, 38.3],
        "hypotension": [False, True, True, False, False, False],
        "vasopressors": [0, 0, 1, 0, 0, 0],
        "oxygen_device": ["none", "none", "nasal_cannula", "nasal_cannula", "none", "none"],
        "oxygen_flow_l_min": [None, None, 4.0, 2.0, None, None],
        "anticytokine_given": [False, True, False, False, False, False],
    })
    graded = clinical.grade_crs_course(days)
    # day 3: afebrile after tocilizumab, but on a vasopressor -> 3; day 4: low-flow O2 only -> 2;
    # day 5: nothing left -> episode over; day 6: a new fever counts again -> 1
    assert graded["grade"].tolist() == [1, 2, 3, 2, 0, 1]
    assert graded["fever_masked"].tolist() == [False, False, True, True, False, False]
    summary = clinical.summarise_course(graded).iloc[0]
    assert summary["max_grade"] == 3 and summary["onset_day"] == 1 and summary["last_day"] == 6
    assert summary["duration_days"] == 6


def test_hypoxia_without_fever_before_any_treatment_is_not_crs_in_a_course():
    days = pd.DataFrame({"patient_id": ["B", "B"], "day": [0, 1], "temperature_c": [37.0, 37.1],
                         "oxygen_device": ["facemask", "facemask"]})
    graded = clinical.grade_crs_course(days)
    assert graded["grade"].tolist() == [0, 0]
    summary = clinical.summarise_course(graded).iloc[0]
    assert summary["max_grade"] == 0 and math.isnan(summary["onset_day"])


def test_course_refuses_repeated_days_and_missing_columns():
    with pytest.raises(ValueError, match="repeated"):
        clinical.grade_crs_course(pd.DataFrame({"patient_id": ["A", "A"], "day": [1, 1],
                                               "temperature_c": [38, 39]}))
    with pytest.raises(ValueError, match="temperature_c"):
        clinical.grade_crs_course(pd.DataFrame({"patient_id": ["A"], "day": [1]}))
    with pytest.raises(ValueError, match="'grade'"):
        clinical.summarise_course(pd.DataFrame({"patient_id": ["A"], "day": [1]}))


def test_icans_course():
    days = pd.DataFrame({"patient_id": ["C"] * 3, "day": [5, 6, 7], "ice": [9, 4, 10],
                         "consciousness": ["awake", "awakens_to_voice", "awake"]})
    graded = clinical.grade_icans_course(days)
    assert graded["grade"].tolist() == [1, 2, 0]


@pytest.mark.parametrize("grade, text", [(0, "0"), (1, "I"), (2, "II"), (3, "III"), (4, "IV"), (5, "V")])
def test_roman(grade, text):
    assert clinical.roman(grade) == text


def test_roman_refuses_grade_6():
    with pytest.raises(ValueError, match="grade"):
        clinical.roman(6)
