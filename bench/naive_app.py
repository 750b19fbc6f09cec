"""The baseline the benchmark compares against: the obvious Flask handler that calls
``model.predict`` on the Keras model per request (scikit-learn transforms included)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from flask import Flask, jsonify, request

from ml_model.artifacts import load_model
from ml_model.features import design_matrix
from ml_model.paths import ML_MODEL_DIR, MODEL_FILE
from ml_model.request_validation import validate_record
from ml_model.schema import CASE_FIELDS, FEATURE_FIELDS, FEATURES


def create_naive_app() -> Flask:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    loaded = load_model(ML_MODEL_DIR)
    net = keras.models.load_model(ML_MODEL_DIR / MODEL_FILE, compile=False)
    app = Flask(__name__)

    def probs(rows: list[dict]) -> np.ndarray:
        x = design_matrix(pd.DataFrame(rows, columns=list(FEATURES)), loaded.encoder, loaded.scaler)
        return net.predict(x, verbose=0).reshape(-1)

    @app.get("/health")
    def health():
        return jsonify(status="ok", model_version=loaded.version)

    @app.post("/predict")
    def predict():
        rows = [validate_record(x, FEATURE_FIELDS, "i") for x in request.get_json()["instances"]]
        return jsonify(model_version=loaded.version, predictions=probs(rows).tolist())

    @app.post("/rank")
    def rank():
        body = request.get_json()
        case = validate_record(body["case"], CASE_FIELDS, "case")
        rows = [{**x, **case} for x in body["lawyers"]]
        p = probs(rows)
        order = np.argsort(-p)
        return jsonify(
            ranking=[
                {"lawyer_id": body["lawyers"][i]["lawyer_id"], "match_probability": float(p[i])}
                for i in order
            ]
        )

    return app
