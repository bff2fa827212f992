"""The pass/fail model (ML-01, APP-07), loaded once from ML_MODEL_PATH, never written to."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import joblib
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, StandardScaler

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


@dataclass(frozen=True)
class LinearScorer:
    """The fitted logistic regression read as its arrays: a weight per category of each one-hot column, a
    (mean, scale, weight) per scaled column, the intercept. Gives predict_proba's answer in microseconds, where
    the pipeline costs milliseconds a call (a DataFrame, a ColumnTransformer, sparse matrices)."""

    categories: dict[str, dict[Any, float]]
    scaled: dict[str, tuple[float, float, float]]
    intercept: float

    @classmethod
    def of(cls, pipeline: Any) -> "LinearScorer | None":
        """None for anything but train.py's pipeline (one-hot and scaled columns, then logistic regression)."""
        try:
            columns, classifier = pipeline.named_steps["columns"], pipeline.named_steps["classifier"]
            if not isinstance(classifier, LogisticRegression) or len(classifier.classes_) != 2 \
                    or columns.remainder != "drop":
                return None
            weights = iter(classifier.coef_[0].tolist())
            categories: dict[str, dict[Any, float]] = {}
            scaled: dict[str, tuple[float, float, float]] = {}
            for _, transformer, names in columns.transformers_:
                if isinstance(transformer, OneHotEncoder) and transformer.drop is None:
                    for name, values in zip(names, transformer.categories_, strict=True):
                        categories[name] = {value: next(weights) for value in values.tolist()}
                elif isinstance(transformer, StandardScaler):
                    for name, mean, scale in zip(names, transformer.mean_.tolist(), transformer.scale_.tolist(),
                                                 strict=True):
                        scaled[name] = (mean, scale, next(weights))
                elif transformer != "drop":
                    return None
            if next(weights, None) is not None:
                return None
            return cls(categories, scaled, float(classifier.intercept_[0]))
        except (AttributeError, KeyError, TypeError, StopIteration):
            return None

    def contributions(self, values: dict[str, Any]) -> dict[str, float]:
        """Each input's share of the log-odds (an unknown category adds nothing, as handle_unknown="ignore")."""
        shares = {name: weights.get(values[name], 0.0) for name, weights in self.categories.items()}
        shares.update({name: (values[name] - mean) / scale * weight
                       for name, (mean, scale, weight) in self.scaled.items()})
        return shares

    def probability(self, values: dict[str, Any]) -> float:
        return 1.0 / (1.0 + math.exp(-(self.intercept + sum(self.contributions(values).values()))))

    def influences(self, values: dict[str, Any], top: int = 3) -> list[dict[str, Any]]:
        """The TOP inputs that moved this prediction most, against a student with average values (a category's
        weight less its column's mean weight; a scaled value's share is already centred on the mean)."""
        shares = self.contributions(values)
        for name, weights in self.categories.items():
            shares[name] -= sum(weights.values()) / len(weights)
        ranked = sorted(shares.items(), key=lambda item: -abs(item[1]))[:top]
        return [{"input": name, "value": values[name], "effect": "raises" if share > 0 else "lowers",
                 "log_odds": round(share, 3)} for name, share in ranked]


@dataclass(frozen=True, eq=False)
class Model:
    pipeline: Any
    card: dict[str, Any]
    scorer: LinearScorer | None

    @property
    def version(self) -> str:
        return str(self.card["version"])

    def predict(self, features: FeatureSet) -> tuple[bool, float]:
        """From the fitted arrays when the model is train.py's logistic regression; otherwise the pipeline (call
        it off the event loop: milliseconds)."""
        values = features.model_dump()
        if self.scorer is not None:
            probability = self.scorer.probability(values)
        else:
            probability = self._probability(tuple(values[name] for name in self.card["features"]))
        return probability >= 0.5, probability

    def influences(self, features: FeatureSet) -> list[dict[str, Any]]:
        """What mattered most for this student (empty for a model that is not a logistic regression)."""
        return self.scorer.influences(features.model_dump()) if self.scorer is not None else []

    @lru_cache(maxsize=4096)  # noqa: B019 - one model per process, never freed anyway
    def _probability(self, values: tuple[Any, ...]) -> float:
        """sklearn costs ~10 ms a call; the same attributes always give the same answer."""
        frame = pd.DataFrame([values], columns=self.card["features"])
        return float(self.pipeline.predict_proba(frame)[0, 1])


@lru_cache
def get_model() -> Model:
    folder = Path(get_settings().ml_model_path)
    card = json.loads((folder / "model_card.json").read_text())
    pipeline = joblib.load(folder / "model.joblib")
    return Model(pipeline=pipeline, card=card, scorer=LinearScorer.of(pipeline))
