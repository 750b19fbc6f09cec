"""Read the preprocessors' pickles without running code from them: an allow-list of globals.

A pickle is a program: ``joblib.load`` of a hostile ``encoder.pkl`` runs whatever its
``__reduce__`` names, and a manifest travelling with the file vouches for nothing. This is
Python's documented defence (``Unpickler.find_class`` restricted to the globals a fitted
encoder and scaler need, https://docs.python.org/3/library/pickle.html#restricting-globals),
on joblib's own unpickler, which reads the NumPy arrays joblib stores after the pickle stream
(joblib routes nested object arrays through this ``find_class`` too).

skops does the same job with its own format, but the spec keeps joblib's ``.pkl`` files, and a
subclass of joblib's unpickler reads them as they are.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np
from joblib.numpy_pickle import NumpyArrayWrapper, NumpyUnpickler

# Every global a fitted OneHotEncoder or StandardScaler pickle asks for (recorded from real
# loads, tests/ml_model/test_safe_pickle.py). Each is a class or an array constructor: calling
# it builds data, never runs a command. joblib's pre-0.10 NDArrayWrapper is absent on purpose:
# it calls np.load(allow_pickle=True), which no find_class can restrict.
ALLOWED_GLOBALS = frozenset(
    {
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy", "float64"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("sklearn.preprocessing._encoders", "OneHotEncoder"),
        ("sklearn.preprocessing._data", "StandardScaler"),
    }
)


# Inside an object array's elements (joblib's nested stream, which borrows our find_class but not our
# load_build) only NumPy's own C types: they rebuild the elements' arrays, and no BUILD can change
# them (their attributes are read-only), unlike a Python class such as the scikit-learn ones.
ARRAY_ELEMENT_GLOBALS = frozenset(
    {("numpy._core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype")}
)


class UnsafePickle(ValueError):
    """A pickle asked for a global outside the allow-list: refused before it could be called."""


class _AllowListUnpickler(NumpyUnpickler):
    """joblib's unpickler, resolving only allow-listed globals, never setting state on a class
    (BUILD on a global would change an allow-listed class for the whole process), and resolving no
    Python class inside an array's elements: joblib reads an object array's elements with a nested
    unpickler that borrows this ``find_class`` but not this ``load_build``."""

    dispatch = NumpyUnpickler.dispatch.copy()

    def __init__(self, where: str, fh: io.BytesIO) -> None:
        # True is what joblib.load's "auto" means without memory mapping.
        super().__init__(where, fh, ensure_native_byte_order=True)
        self.where = where
        self.reading_array = False

    def find_class(self, module: str, name: str) -> Any:
        allowed = ARRAY_ELEMENT_GLOBALS if self.reading_array else ALLOWED_GLOBALS
        if (module, name) not in allowed:
            raise UnsafePickle(
                f"{self.where}: refused to load: it asks for the global {module}.{name}, which is not "
                "one a fitted encoder or scaler needs (loading it could run code)"
            )
        return super().find_class(module, name)

    def load_build(self) -> None:
        target = self.stack[-2] if len(self.stack) > 1 else None
        if isinstance(target, type):
            raise UnsafePickle(
                f"{self.where}: refused to load: it sets attributes on the class {target.__name__}"
            )
        if isinstance(target, NumpyArrayWrapper):
            self._check_wrapper(self.stack[-1])
        self.reading_array = True  # joblib reads the array's data inside this BUILD
        try:
            NumpyUnpickler.load_build(self)
        finally:
            self.reading_array = False

    def _check_wrapper(self, state: Any) -> None:
        """An array wrapper's state names a plain ndarray, a dtype and a shape of whole numbers."""
        ok = (
            isinstance(state, dict)
            and state.get("subclass") is np.ndarray
            and isinstance(state.get("dtype"), np.dtype)
            and isinstance(state.get("shape"), tuple)
            and all(isinstance(n, int) for n in state["shape"])
        )
        if not ok:
            raise UnsafePickle(f"{self.where}: refused to load: an array is described by unexpected state")

    dispatch[pickle.BUILD[0]] = load_build


def load_pickle(blob: bytes, where: str, expected: type) -> Any:
    """Unpickle a joblib file's bytes (uncompressed, as train_model.py writes them) safely, and
    refuse anything but an instance of ``expected``.

    ``where`` names the file in errors. Raises UnsafePickle for a refused global, ValueError for
    a file that is not a pickle joblib wrote or holds another kind of object.
    """
    try:
        obj = _AllowListUnpickler(where, io.BytesIO(blob)).load()
    except UnsafePickle:
        raise
    except Exception as exc:  # truncated, compressed or not a pickle: a clear refusal, not a traceback
        raise ValueError(f"{where}: not a readable joblib pickle ({type(exc).__name__}: {exc})") from exc
    if type(obj) is not expected:
        raise ValueError(f"{where}: holds a {type(obj).__name__}, not a {expected.__name__}")
    return obj
