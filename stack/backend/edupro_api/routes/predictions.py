from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, model_validator

from ..access import read_and_disclose
from ..deps import CurrentUser
from ..metrics import PREDICTIONS
from ..ml import FeatureSet, get_model

router = APIRouter(tags=["predictions"])


class PredictionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    student_id: int | None = None
    features: FeatureSet | None = None

    @model_validator(mode="after")
    def exactly_one(self) -> "PredictionRequest":
        if (self.student_id is None) == (self.features is None):
            raise ValueError("give either student_id or features")
        return self


@router.post("/predictions")
async def predict(body: PredictionRequest, user: CurrentUser) -> dict[str, Any]:
    model = get_model()
    features = body.features
    if body.student_id is not None:
        row = await read_and_disclose(user, body.student_id, "prediction", "academic performance prediction")
        if row["g1"] is None:
            raise HTTPException(status.HTTP_409_CONFLICT, "the student has no grades to predict from")
        features = FeatureSet(**row["attributes"], G1=row["g1"], G2=row["g2"])
    assert features is not None  # guaranteed by PredictionRequest.exactly_one
    if model.scorer is not None:  # microseconds: on the event loop
        passes, probability = model.predict(features)
    else:  # another model's pipeline: milliseconds of CPU, off the event loop
        passes, probability = await run_in_threadpool(model.predict, features)
    PREDICTIONS.labels("pass" if passes else "fail").inc()
    return {"prediction": "pass" if passes else "fail", "probability": round(probability, 4),
            "model_version": model.version, "influences": model.influences(features)}


@router.get("/model")
async def model_card(user: CurrentUser) -> dict[str, Any]:
    """The model card: version, training data SHA-256 and held-out metrics (ML-01)."""
    return get_model().card
