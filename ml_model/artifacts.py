"""Model artifacts: the manifest that guards them, and the fast scorer that serves them.

Nothing in a set is trusted until its signature verifies against a key kept outside it
(``signing``). Pickles execute code when loaded, so the preprocessors are read by an allow-list unpickler
(``safe_pickle``) that refuses any global a fitted encoder or scaler does not need, after each
file's sha256 is checked against the manifest. Serving never calls Keras: a NumPy forward pass
over the .h5 weights (read with h5py) gives the same probabilities to 1e-5 far faster than
``model.predict`` (BENCHMARKS.md), and keeps TensorFlow out of the service process.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ml_model.features import NUMERIC_FEATURES, numeric_matrix
from ml_model.paths import ARTIFACT_FILES, ENCODER_FILE, MANIFEST_FILE, MODEL_FILE, SCALER_FILE
from ml_model.safe_pickle import load_pickle
from ml_model.schema import CATEGORICAL, SMALL_BATCH
from ml_model.signing import SignatureError, verify_signature

ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
}


class ManifestError(RuntimeError):
    """An artifact is missing or does not match its manifest: refuse to load it."""


def read_manifest(model_dir: str | Path) -> dict[str, Any]:
    """The manifest as JSON, refusing a missing or malformed one (no artifact is trusted without it)."""
    path = Path(model_dir) / MANIFEST_FILE
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found; artifacts without a manifest are not loaded")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("artifacts"), dict):
        raise ManifestError(f"{path}: no 'artifacts' table")
    return manifest


def verify_manifest(model_dir: str | Path) -> dict[str, Any]:
    """Return the manifest when every artifact's sha256 matches it; raise ManifestError otherwise."""
    return read_verified(model_dir)[0]


def read_verified(model_dir: str | Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest, its signature checked first against the trusted keys (kept outside every
    artifact folder), and the artifacts' bytes, each hashed as read: what is loaded is exactly what
    was checked, even if the files are replaced in between (a promotion)."""
    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
    try:
        verify_signature(model_dir, manifest)
    except SignatureError as exc:
        raise ManifestError(str(exc)) from exc
    blobs: dict[str, bytes] = {}
    for name in ARTIFACT_FILES:
        expected = manifest["artifacts"].get(name)
        path = model_dir / name
        if expected is None:
            raise ManifestError(f"{model_dir / MANIFEST_FILE}: no sha256 recorded for {name}")
        if not path.is_file():
            raise ManifestError(f"{path}: artifact missing")
        blobs[name] = path.read_bytes()
        actual = hashlib.sha256(blobs[name]).hexdigest()
        if actual != expected:
            raise ManifestError(
                f"{path}: sha256 {actual[:12]}... does not match the manifest's {expected[:12]}...; "
                "the file was changed after training, refusing to load it"
            )
    return manifest, blobs


@dataclass(frozen=True)
class DenseLayer:
    """One Dense layer's weights as NumPy arrays: all the service needs of the network."""

    kernel: np.ndarray
    bias: np.ndarray
    activation: str


def read_dense_layers(h5: str | Path | bytes) -> list[DenseLayer]:
    """The Dense layers of a Keras .h5 file (a path or its bytes) in order, read with h5py (no TensorFlow)."""
    h5_path = "<bytes>" if isinstance(h5, bytes) else h5
    with h5py.File(io.BytesIO(h5) if isinstance(h5, bytes) else h5, "r") as fh:
        config = json.loads(fh.attrs["model_config"])
        weights = fh["model_weights"]
        layers: list[DenseLayer] = []
        for layer in config["config"]["layers"]:
            kind, cfg = layer["class_name"], layer["config"]
            if kind in ("InputLayer", "Dropout"):
                continue  # no-ops at inference
            if kind != "Dense":
                raise ValueError(f"{h5_path}: layer {cfg.get('name')} of type {kind} is not supported")
            if cfg["activation"] not in ACTIVATIONS:
                raise ValueError(f"{h5_path}: activation {cfg['activation']} is not supported")
            group = weights[cfg["name"]]
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
            kernel = np.asarray(group[next(n for n in names if n.endswith("kernel"))], dtype=np.float64)
            bias = np.asarray(group[next(n for n in names if n.endswith("bias"))], dtype=np.float64)
            layers.append(DenseLayer(kernel, bias, cfg["activation"]))
    return layers


class FastScorer:
    """Encoder, scaler and MLP compiled into NumPy arrays: one matrix build and a few matmuls.

    Uses the fitted scikit-learn objects' own learned parameters (categories, means, scales),
    so the output equals ``encoder -> scaler -> keras`` to float rounding.
    """

    def __init__(self, encoder: Any, scaler: Any, layers: list[DenseLayer]) -> None:
        self.layers = layers
        self.offsets: list[tuple[str, dict[str, int]]] = []
        pos = 0
        for name, cats in zip(CATEGORICAL, encoder.categories_, strict=True):
            self.offsets.append((name, {str(c): pos + i for i, c in enumerate(cats)}))
            pos += len(cats)
        self.n_onehot = pos
        self.mean = np.asarray(scaler.mean_, dtype=np.float64)
        self.scale = np.asarray(scaler.scale_, dtype=np.float64)
        if len(self.mean) != len(NUMERIC_FEATURES):
            raise ValueError(f"scaler has {len(self.mean)} columns, expected {len(NUMERIC_FEATURES)}")
        self.n_inputs = self.n_onehot + len(self.mean)
        if layers[0].kernel.shape[0] != self.n_inputs:
            raise ValueError(
                f"model expects {layers[0].kernel.shape[0]} inputs, features give {self.n_inputs}"
            )

    def design(self, cols: Mapping[str, Any], n: int) -> np.ndarray:
        """The scaled one-hot and numeric design matrix, built with NumPy only (the hot path)."""
        return self.design_checked(cols, n)[0]

    def design_checked(
        self, cols: Mapping[str, Any], n: int, constant: frozenset[str] = frozenset()
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The design matrix for ``n`` validated rows, the rows with an unknown category (their
        one-hot group stays all-zero, like ``handle_unknown="ignore"``) and the fields they are in.

        One-hot positions come from dict lookups: one Python loop for a few rows, ``np.fromiter``
        over ``dict.get`` for many, and one assignment for a column the caller says is
        ``constant`` (the case of a /rank); ``pd.factorize`` was slower even for one row.
        """
        x = np.zeros((n, self.n_inputs), dtype=np.float64)
        if n <= SMALL_BATCH:
            unknown, fields = self._onehot_few(x, cols, n)
        else:
            unknown, fields = self._onehot_many(x, cols, n, constant)
        x[:, self.n_onehot :] = (numeric_matrix(cols) - self.mean) / self.scale
        return x, unknown, fields

    def _onehot_few(self, x: np.ndarray, cols: Mapping[str, Any], n: int) -> tuple[np.ndarray, list[str]]:
        """A few rows: one Python loop, and the ones set in one flat assignment."""
        hot: list[int] = []  # flat positions of the ones
        bad: set[int] = set()
        fields: list[str] = []
        width = self.n_inputs
        for name, index in self.offsets:
            for r, value in enumerate(np.asarray(cols[name]).tolist()):
                j = index.get(value)
                if j is None:
                    bad.add(r)
                    if name not in fields:
                        fields.append(name)
                else:
                    hot.append(r * width + j)
        x.flat[hot] = 1.0
        return np.array(sorted(bad), dtype=np.int64), fields

    def _onehot_many(
        self, x: np.ndarray, cols: Mapping[str, Any], n: int, constant: frozenset[str]
    ) -> tuple[np.ndarray, list[str]]:
        """Many rows: ``np.fromiter`` over ``dict.get`` per column, one assignment per constant column."""
        rows = np.arange(n)
        mask = np.zeros(n, dtype=bool)
        fields: list[str] = []
        for name, index in self.offsets:
            col = cols[name]
            if name in constant:
                j = index.get(col[0])
                if j is None:
                    mask[:] = True
                    fields.append(name)
                else:
                    x[:, j] = 1.0
                continue
            codes = np.fromiter(map(index.get, col, repeat(-1)), dtype=np.int64, count=n)
            known = codes >= 0
            if known.all():
                x[rows, codes] = 1.0
            else:  # unknown categories stay all-zero, like handle_unknown="ignore"
                x[rows[known], codes[known]] = 1.0
                mask |= ~known
                fields.append(name)
        return (np.flatnonzero(mask) if fields else np.zeros(0, dtype=np.int64)), fields

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The Dense stack: a few matmuls, the same as Keras to float rounding."""
        h = x
        for layer in self.layers:
            h = ACTIVATIONS[layer.activation](h @ layer.kernel + layer.bias)
        return h[:, 0]

    def score(self, cols: Mapping[str, Any], n: int) -> np.ndarray:
        """Match probabilities for ``n`` rows given as column arrays (or lists)."""
        return self.forward(self.design(cols, n))


@dataclass
class LoadedModel:
    """A verified artifact set, ready to score: manifest, preprocessors and the fast scorer."""

    manifest: dict[str, Any]
    encoder: Any
    scaler: Any
    scorer: FastScorer

    @property
    def version(self) -> str:
        """The manifest's model version: what every response and run names."""
        return str(self.manifest.get("model_version", "unknown"))


def load_model(model_dir: str | Path) -> LoadedModel:
    """Verify the manifest, then unpickle the preprocessors (allow-listed globals only, so no code
    from the files runs) and read the network's weights as arrays."""
    manifest, blobs = read_verified(model_dir)
    try:
        encoder = load_pickle(blobs[ENCODER_FILE], str(Path(model_dir) / ENCODER_FILE), OneHotEncoder)
        scaler = load_pickle(blobs[SCALER_FILE], str(Path(model_dir) / SCALER_FILE), StandardScaler)
    except ValueError as exc:  # UnsafePickle included: the message names the file and the global
        raise ManifestError(str(exc)) from exc
    scorer = FastScorer(encoder, scaler, read_dense_layers(blobs[MODEL_FILE]))
    return LoadedModel(manifest, encoder, scaler, scorer)


def verify_probe(model: LoadedModel) -> None:
    """Score the manifest's probe batch the service's way and compare with what training recorded.

    A set without a probe (trained before probes existed) is refused: nothing vouches that it
    loads and scores as it did when it was trained.
    """
    from ml_model.request_validation import validate_batch
    from ml_model.schema import FEATURE_FIELDS

    probe = model.manifest.get("probe")
    if not isinstance(probe, dict) or not probe.get("rows"):
        raise ManifestError(
            f"model {model.version}: its manifest records no probe batch; retrain it to promote it"
        )
    rows = probe["rows"]
    got = model.scorer.score(validate_batch(rows, FEATURE_FIELDS, "probe"), len(rows))
    want = np.asarray(probe["predictions"], dtype=float)
    worst = float(np.max(np.abs(got - want))) if len(want) == len(got) else float("inf")
    if not worst <= float(probe.get("atol", 1e-5)):
        raise ManifestError(
            f"model {model.version}: scored its probe batch {worst:.2g} away from what training recorded; "
            "the artifacts are not the ones that were trained"
        )
