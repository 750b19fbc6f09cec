"""Clients' data: how long each store keeps it, and erasing one client's match on request.

``scripts/privacy.py`` is the command; this package is its library. The stores are found by the
same settings as the app (``PREDICTION_LOG``, ``DB_PATH``, ``OUTCOME_EXPORT_DIR``) and the limits
are ``params.yaml``'s ``retention`` section (``clientdata.config``).
"""
