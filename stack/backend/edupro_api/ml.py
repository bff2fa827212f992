"""The pass/fail model (ML-01, APP-07), loaded once from ML_MODEL_PATH, never written to."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import joblib
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from .config import get_settings

YesNo = Literal["yes", "no"]
Level = Annotated[int, Field(ge=1, le=5)]
Grade = Annotated[int, Field(ge=0, le=20)]


class FeatureSet(BaseModel):
    """One student's attributes, as in the UCI data set's description."""

    model_config = ConfigDict(extra="forbid")
    school: Literal["GP", "MS"]
    sex: Literal["F", "M"]
    age: Annotated[int, Field(ge=15, le=22)]
    address: Literal["U", "R"]
    famsize: Literal["LE3", "GT3"]
    Pstatus: Literal["T", "A"]
    Medu: Annotated[int, Field(ge=0, le=4)]
    Fedu: Annotated[int, Field(ge=0, le=4)]
    Mjob: Literal["teacher", "health", "services", "at_home", "other"]
    Fjob: Literal["teacher", "health", "services", "at_home", "other"]
    reason: Literal["home", "reputation", "course", "other"]
    guardian: Literal["mother", "father", "other"]
    traveltime: Annotated[int, Field(ge=1, le=4)]
    studytime: Annotated[int, Field(ge=1, le=4)]
    failures: Annotated[int, Field(ge=0, le=4)]
    schoolsup: YesNo
    famsup: YesNo
    paid: YesNo
    activities: YesNo
    nursery: YesNo
    higher: YesNo
    internet: YesNo
    romantic: YesNo
    famrel: Level
    freetime: Level
    goout: Level
    Dalc: Level
    Walc: Level
    health: Level
    absences: Annotated[int, Field(ge=0, le=93)]
    G1: Grade
    G2: Grade


@dataclass(frozen=True, eq=False)
class Model:
    pipeline: Any
    card: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.card["version"])

    def predict(self, features: FeatureSet) -> tuple[bool, float]:
        values = features.model_dump()
        probability = self._probability(tuple(values[name] for name in self.card["features"]))
        return probability >= 0.5, probability

    @lru_cache(maxsize=4096)  # noqa: B019 - one model per process, never freed anyway
    def _probability(self, values: tuple[Any, ...]) -> float:
        """sklearn costs ~10 ms a call; the same attributes always give the same answer."""
        frame = pd.DataFrame([values], columns=self.card["features"])
        return float(self.pipeline.predict_proba(frame)[0, 1])


@lru_cache
def get_model() -> Model:
    folder = Path(get_settings().ml_model_path)
    card = json.loads((folder / "model_card.json").read_text())
    return Model(pipeline=joblib.load(folder / "model.joblib"), card=card)
