"""Train the EduPro pass/fail model reproducibly and write its model card.

    python stack/ml/train.py --out DIR

Data: UCI "Student Performance" (Cortez & Silva, 2008), CC BY 4.0 — see stack/data/README.md.
Target: pass = G3 >= 10. Same data, seed and library versions give the same model and card.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import joblib
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

DATA = Path(__file__).resolve().parents[1] / "data" / "student-mat.csv"
SEED = 42
HELD_OUT = 0.25
MODEL_VERSION = "1.0.0"
CATEGORICAL = [
    "school", "sex", "address", "famsize", "Pstatus", "Mjob", "Fjob", "reason", "guardian",
    "schoolsup", "famsup", "paid", "activities", "nursery", "higher", "internet", "romantic",
]
NUMERIC = [
    "age", "Medu", "Fedu", "traveltime", "studytime", "failures", "famrel", "freetime",
    "goout", "Dalc", "Walc", "health", "absences", "G1", "G2",
]
ATTRIBUTION = (
    "UCI Student Performance data set (id 320), P. Cortez and A. Silva, FUBUTEC 2008; "
    "licensed CC BY 4.0"
)
PUBLISHED = {"pass_fail_accuracy_with_G1_G2": 0.919, "pass_fail_accuracy_without_G1_G2": 0.70}


def load(path: Path = DATA) -> pd.DataFrame:
    return pd.read_csv(path, sep=";")


def build_pipeline() -> Pipeline:
    columns = ColumnTransformer([
        ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ("numeric", StandardScaler(), NUMERIC),
    ])
    return Pipeline([("columns", columns), ("classifier", LogisticRegression(max_iter=2000, random_state=SEED))])


def train(out: Path) -> dict:
    frame = load()
    target = (frame["G3"] >= 10).astype(int)
    features = frame[CATEGORICAL + NUMERIC]
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=HELD_OUT, random_state=SEED, stratify=target)
    model = build_pipeline().fit(x_train, y_train)
    predicted = model.predict(x_test)
    card = {
        "model": "edupro-pass-fail",
        "version": MODEL_VERSION,
        "task": "binary classification: pass = G3 >= 10",
        "algorithm": "one-hot + standard scaling + logistic regression",
        "features": CATEGORICAL + NUMERIC,
        "training_data": {
            "file": DATA.name,
            "sha256": hashlib.sha256(DATA.read_bytes()).hexdigest(),
            "rows": int(len(frame)),
            "attribution": ATTRIBUTION,
        },
        "split": {"held_out_fraction": HELD_OUT, "seed": SEED, "stratified": True,
                  "train_rows": int(len(x_train)), "held_out_rows": int(len(x_test))},
        "metrics_held_out": {
            "accuracy": round(float(accuracy_score(y_test, predicted)), 4),
            "f1": round(float(f1_score(y_test, predicted)), 4),
            "roc_auc": round(float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])), 4),
        },
        "published_baseline": PUBLISHED,
        "scikit_learn": sklearn.__version__,
    }
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / "model.joblib")
    card["model_sha256"] = hashlib.sha256((out / "model.joblib").read_bytes()).hexdigest()  # the file it describes
    (out / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for model.joblib and model_card.json")
    card = train(parser.parse_args().out)
    print(json.dumps(card["metrics_held_out"]))


if __name__ == "__main__":
    main()
