"""Shared helpers of the MLOps sidecar (grown in the sidecar issue)."""

from ml_model.common import atomic_write_csv, setup_logging

__all__ = ["atomic_write_csv", "setup_logging"]
