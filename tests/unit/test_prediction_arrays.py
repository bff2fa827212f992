"""The backend predicts from the fitted logistic regression's arrays (microseconds) instead of the pipeline
(milliseconds): the two must give the same probability for every student of the data set."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

STACK = Path(__file__).resolve().parents[2] / "stack"
sys.path[:0] = [str(STACK / "backend"), str(STACK / "ml")]

import train  # noqa: E402

from edupro_api.ml import FeatureSet, LinearScorer  # noqa: E402

FEATURES = train.CATEGORICAL + train.NUMERIC


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, Any, LinearScorer]:
    """train.py's pipeline fitted on the data set, and its arrays."""
    frame = train.load()
    pipeline = train.build_pipeline().fit(frame[FEATURES], (frame["G3"] >= 10).astype(int))
    scorer = LinearScorer.of(pipeline)
    assert scorer is not None
    return frame[FEATURES], pipeline, scorer


def test_the_arrays_give_the_pipelines_probability_for_every_student(fitted: tuple[pd.DataFrame, Any, LinearScorer]) -> None:
    frame, pipeline, scorer = fitted
    expected = pipeline.predict_proba(frame)[:, 1]
    for row, probability in zip(frame.to_dict("records"), expected, strict=True):
        values = FeatureSet(**row).model_dump()
        assert scorer.probability(values) == pytest.approx(probability, abs=1e-12)


def test_an_unknown_category_adds_nothing_as_the_encoder_ignores_it(fitted: tuple[pd.DataFrame, Any, LinearScorer]) -> None:
    frame, pipeline, scorer = fitted
    row = frame.iloc[[0]].copy()
    row["Mjob"] = "astronaut"
    values = {**row.to_dict("records")[0]}
    assert scorer.probability(values) == pytest.approx(pipeline.predict_proba(row)[0, 1], abs=1e-12)


def test_any_other_model_is_left_to_its_own_predict_proba() -> None:
    from sklearn.dummy import DummyClassifier

    assert LinearScorer.of(DummyClassifier()) is None
    assert LinearScorer.of(object()) is None


def test_what_mattered_most_is_ranked_by_its_share_of_the_log_odds(fitted: tuple[pd.DataFrame, Any, LinearScorer]) -> None:
    frame, _, scorer = fitted
    influences = scorer.influences(FeatureSet(**frame.iloc[0].to_dict()).model_dump())
    assert len(influences) == 3
    shares = [abs(i["log_odds"]) for i in influences]
    assert shares == sorted(shares, reverse=True)
    assert all(i["effect"] == ("raises" if i["log_odds"] > 0 else "lowers") for i in influences)
