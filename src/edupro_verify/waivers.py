"""Waivers (WAIVE-01): a failed requirement may be waived with a justification, an approver and an
expiry date; an expired waiver stops counting and the report says so."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .spec import SpecError


class Waiver(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requirement: str
    justification: str = Field(min_length=10)
    approver: str = Field(min_length=3)
    expires: date

    def active(self, today: date) -> bool:
        return today <= self.expires


def load(path: Path, known: set[str]) -> list[Waiver]:
    """The waivers of PATH (none when it does not exist); a malformed file names the line and problem."""
    if not path.exists():
        return []
    try:
        root = yaml.compose(path.read_text())
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise SpecError(f"{path}: line {mark.line + 1 if mark else '?'}: {getattr(error, 'problem', 'invalid YAML')}") from None
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("waivers"), list):
        raise SpecError(f"{path}: line 1: expected a mapping with a 'waivers' list")
    items = next(v for k, v in root.value if k.value == "waivers").value  # type: ignore[union-attr]
    waivers = []
    for index, entry in enumerate(data["waivers"]):
        line = items[index].start_mark.line + 1
        try:
            waiver = Waiver.model_validate(entry)
        except ValidationError as error:
            first = error.errors()[0]
            key = ".".join(str(p) for p in first["loc"]) or "entry"
            raise SpecError(f"{path}: line {line}: {key}: {first['msg']}") from None
        if waiver.requirement not in known:
            raise SpecError(f"{path}: line {line}: requirement: {waiver.requirement} is not in specs/requirements.yaml")
        waivers.append(waiver)
    return waivers
