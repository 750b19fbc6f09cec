"""The preprocessors' pickles load without running code: allow-listed globals only."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ml_model.artifacts import ManifestError, load_model
from ml_model.paths import ENCODER_FILE, MANIFEST_FILE, ML_MODEL_DIR, SCALER_FILE, SIGNATURE_FILE
from ml_model.safe_pickle import ALLOWED_GLOBALS, UnsafePickle, load_pickle
from tests.support.service import write_signed_manifest


class Payload:
    """A hostile object: unpickling it would create ``marker`` (a stand-in for any command)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


class PayloadThenEncoder:
    """The payload, then the real encoder: a file that would still work after running its code."""

    def __init__(self, marker: Path, encoder: object) -> None:
        self.marker, self.encoder = marker, encoder

    def __reduce__(self) -> tuple:
        return (getattr, (Payload(self.marker), "__class__"))


def hostile_set(tmp_path: Path, blob: bytes, signed: bool = False) -> Path:
    """A copy of production whose encoder is ``blob``, with its sha256 rewritten in the manifest;
    ``signed``: re-signed with a trusted key too (an insider, or a stolen key)."""
    folder = tmp_path / "set"
    shutil.copytree(ML_MODEL_DIR, folder, ignore=shutil.ignore_patterns("*.csv", "*.py", "__pycache__"))
    (folder / ENCODER_FILE).write_bytes(blob)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["artifacts"][ENCODER_FILE] = hashlib.sha256(blob).hexdigest()
    if signed:
        write_signed_manifest(folder, manifest)
    else:
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize(("name", "kind"), [(ENCODER_FILE, OneHotEncoder), (SCALER_FILE, StandardScaler)])
def test_the_real_preprocessors_load_as_joblib_loads_them(name: str, kind: type) -> None:
    blob = (ML_MODEL_DIR / name).read_bytes()
    safe, plain = load_pickle(blob, name, kind), joblib.load(io.BytesIO(blob))
    assert type(safe) is type(plain)
    assert safe.__dict__.keys() == plain.__dict__.keys()
    for key, value in plain.__dict__.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(safe.__dict__[key], value)
        elif isinstance(value, list):
            for a, b in zip(safe.__dict__[key], value, strict=True):
                np.testing.assert_array_equal(a, b)
        else:
            assert safe.__dict__[key] == value, key


def test_a_hostile_pickle_is_refused_before_its_code_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(UnsafePickle) as err:
        load_pickle(pickle.dumps(Payload(marker)), "encoder.pkl", OneHotEncoder)
    assert "encoder.pkl" in str(err.value) and "posix.system" in str(err.value)
    assert not marker.exists()


def _hostile_blob(marker: Path) -> bytes:
    buf = io.BytesIO()
    joblib.dump([Payload(marker), joblib.load(ML_MODEL_DIR / ENCODER_FILE)], buf)
    return buf.getvalue()


def test_a_hostile_encoder_with_a_rewritten_manifest_is_refused_by_its_signature(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    folder = hostile_set(tmp_path, _hostile_blob(marker))
    with pytest.raises(ManifestError) as err:
        load_model(folder)
    assert str(folder / SIGNATURE_FILE) in str(err.value) and "does not match" in str(err.value)
    assert not marker.exists()


def test_a_hostile_encoder_signed_with_a_trusted_key_is_still_refused_by_load_model(tmp_path: Path) -> None:
    """A stolen or insider key gets past the signature, not past the unpickler."""
    marker = tmp_path / "pwned"
    folder = hostile_set(tmp_path, _hostile_blob(marker), signed=True)
    with pytest.raises(ManifestError) as err:
        load_model(folder)
    assert str(folder / ENCODER_FILE) in str(err.value)
    assert "posix.system" in str(err.value)
    assert not marker.exists()


def test_any_global_outside_the_allow_list_is_refused(tmp_path: Path) -> None:
    """A builtin that merely exists is refused too: the list names what a fit needs, nothing more."""
    with pytest.raises(UnsafePickle, match=r"builtins\.getattr"):
        load_pickle(pickle.dumps(PayloadThenEncoder(tmp_path / "x", None)), "scaler.pkl", StandardScaler)
    assert ("builtins", "getattr") not in ALLOWED_GLOBALS
    assert not (tmp_path / "x").exists()


def test_garbage_is_a_clear_error_not_a_traceback() -> None:
    with pytest.raises(ValueError, match=r"scaler\.pkl: not a readable joblib pickle"):
        load_pickle(b"not a pickle at all", "scaler.pkl", StandardScaler)


def test_state_set_on_an_allowed_class_is_refused() -> None:
    """BUILD on a global would change the class for the whole process (every later load)."""
    from joblib.numpy_pickle import NumpyArrayWrapper

    blob = b"cjoblib.numpy_pickle\nNumpyArrayWrapper\n(N}X\x04\x00\x00\x00pwndK\x01stb."
    with pytest.raises(UnsafePickle, match="sets attributes on the class NumpyArrayWrapper"):
        load_pickle(blob, "encoder.pkl", OneHotEncoder)
    assert not hasattr(NumpyArrayWrapper, "pwnd")


def test_a_scaler_where_the_encoder_belongs_is_refused() -> None:
    blob = (ML_MODEL_DIR / SCALER_FILE).read_bytes()
    with pytest.raises(ValueError, match=r"encoder\.pkl: holds a StandardScaler, not a OneHotEncoder"):
        load_pickle(blob, "encoder.pkl", OneHotEncoder)


def test_inside_an_arrays_elements_only_numpys_own_types_resolve() -> None:
    """joblib reads an object array's elements with a nested unpickler that borrows our find_class
    but not our load_build: there no Python class (whose state a BUILD could change) resolves."""
    from ml_model.safe_pickle import _AllowListUnpickler

    unpickler = _AllowListUnpickler("encoder.pkl", io.BytesIO(b""))
    unpickler.reading_array = True
    for module, name in (
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
        ("sklearn.preprocessing._data", "StandardScaler"),
    ):
        with pytest.raises(UnsafePickle, match=name):
            unpickler.find_class(module, name)
    assert unpickler.find_class("numpy", "ndarray") is np.ndarray


def test_an_array_wrapper_with_unexpected_state_is_refused() -> None:
    from ml_model.safe_pickle import _AllowListUnpickler

    unpickler = _AllowListUnpickler("scaler.pkl", io.BytesIO(b""))
    good = {"subclass": np.ndarray, "dtype": np.dtype("float64"), "shape": (3,)}
    unpickler._check_wrapper(good)
    for bad in (
        {**good, "subclass": StandardScaler},
        {**good, "shape": ("3",)},
        {**good, "dtype": "f8"},
        None,
    ):
        with pytest.raises(UnsafePickle, match="unexpected state"):
            unpickler._check_wrapper(bad)
