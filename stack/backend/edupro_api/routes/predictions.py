from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, model_validator

from ..access import disclose, readable_student
from ..deps import CurrentUser, SessionDep
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
async def predict(body: PredictionRequest, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    model = get_model()
    features = body.features
    if body.student_id is not None:
        student = await readable_student(session, user, body.student_id)
        if student.grade is None:
            raise HTTPException(status.HTTP_409_CONFLICT, "the student has no grades to predict from")
        features = FeatureSet(**student.attributes, G1=student.grade.g1, G2=student.grade.g2)
        await disclose(session, user, student.id, "prediction", "academic performance prediction")
    assert features is not None  # guaranteed by PredictionRequest.exactly_one
    # The model's CPU (milliseconds when the attributes are new) off the event loop.
    passes, probability = await run_in_threadpool(model.predict, features)
    PREDICTIONS.labels("pass" if passes else "fail").inc()
    return {"prediction": "pass" if passes else "fail", "probability": round(probability, 4),
            "model_version": model.version}


@router.get("/model")
async def model_card(user: CurrentUser) -> dict[str, Any]:
    """The model card: version, training data SHA-256 and held-out metrics (ML-01)."""
    return get_model().card
