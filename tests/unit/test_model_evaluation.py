"""The suite's evaluation set (ML-01) as the probe reads it: the shipped file and a broken one."""

from __future__ import annotations

from pathlib import Path

import pytest

from edupro_verify.errors import ProbeError
from edupro_verify.probes.model import held_out_students
from edupro_verify.spec import SPECS

FEATURES = 32  # the data set's 33 columns without the final grade G3


def test_the_shipped_evaluation_set_is_the_held_out_quarter() -> None:
    students = held_out_students(SPECS / "evaluation" / "held-out-students.csv")
    assert len(students) == 99
    assert sum(s.passes for s in students) == 66
    assert {len(s.features) for s in students} == {FEATURES}
    assert "G3" not in students[0].features and "row" not in students[0].features
    assert isinstance(students[0].features["age"], int) and students[0].features["school"] in ("GP", "MS")
    assert len({s.row for s in students}) == 99


def test_a_missing_or_unlabelled_set_is_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="does not exist"):
        held_out_students(tmp_path / "none.csv")
    (tmp_path / "bad.csv").write_text("school;age\nGP;17\n")
    with pytest.raises(ProbeError, match="no students with a final grade G3"):
        held_out_students(tmp_path / "bad.csv")
