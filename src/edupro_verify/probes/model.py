"""The model as it is served (ML-01): the suite's own held-out students sent through the prediction API,
and the model file on the host against the digest its card states.

The held-out students are a copy of the public data set's rows the reference model was not trained on
(specs/evaluation/README.md); the suite carries them, so the measurement does not rest on the target's
claims. The label is the data set's own: a student passes when the final grade G3 is at least 10.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ProbeError
from .http import Api

PASS_MARK = 10  # G3 >= 10 is a pass (the data set's own convention, Cortez & Silva 2008)
NOT_FEATURES = ("row", "G3")


@dataclass(frozen=True)
class HeldOutStudent:
    row: int
    features: dict[str, Any]
    passes: bool


@dataclass
class Evaluation:
    students: int = 0
    correct: int = 0
    refused: Counter[int] = field(default_factory=Counter)  # answer status -> how many valid students got it
    versions: set[str] = field(default_factory=set)
    accounts: int = 0
    wrong_rows: list[int] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.students if self.students else 0.0


def held_out_students(path: Path) -> list[HeldOutStudent]:
    """The evaluation set: `;`-separated as the UCI file, with its line number in the source as `row`."""
    if not path.is_file():
        raise ProbeError(f"the evaluation set {path} does not exist; see specs/evaluation/README.md")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    if not rows or "G3" not in rows[0]:
        raise ProbeError(f"the evaluation set {path} has no students with a final grade G3")
    return [HeldOutStudent(int(r.get("row") or n), {k: _value(v) for k, v in r.items() if k not in NOT_FEATURES},
                           int(r["G3"]) >= PASS_MARK) for n, r in enumerate(rows, start=2)]


def _value(text: str) -> Any:
    return int(text) if text.lstrip("-").isdigit() else text


def evaluate(api: Api, students: list[HeldOutStudent], new_login: Callable[[], str], per_login: int) -> Evaluation:
    """Each student's prediction, requested with their attributes and first two grades, against the label.

    A login makes at most PER_LOGIN requests (under the per-client rate limit), then the next one is made;
    a 429 all the same moves to a fresh login and asks again."""
    result = Evaluation()
    token, used = new_login(), 0
    result.accounts = 1
    for student in students:
        for _ in range(3):
            if used >= per_login:
                token, used = new_login(), 0
                result.accounts += 1
            response = api.post("/api/v1/predictions", token, json={"features": student.features})
            used += 1
            if response.status_code != 429:
                break
            used = per_login
        result.students += 1
        if response.status_code != 200:
            result.refused[response.status_code] += 1
            result.wrong_rows.append(student.row)
            continue
        body = response.json()
        result.versions.add(str(body.get("model_version")))
        if (body.get("prediction") == "pass") == student.passes:
            result.correct += 1
        else:
            result.wrong_rows.append(student.row)
    return result
