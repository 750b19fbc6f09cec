"""The log store: every host's rotated prediction-log files, shipped as Parquet and partitioned by day.

A store is a folder (by default ``logs/store/`` beside the log: 0700 folders, 0600 files, created
so) or an S3 prefix (``s3://bucket/prefix``, the scale-out stack's radosgw); both go through
``pyarrow.fs``, one code path. Its layout::

    predictions/day=YYYY-MM-DD/host=<host>/<source_id>.parquet   a shipped file's rows of that UTC day
    hosts/<host>.json                                            each shipper's last run
    outcomes/<stamp>-<name>-<sha>.jsonl                          outcome exports put into the store

``store.LogStore`` reads and maintains it (days, hosts, outcomes, expiry and erasure for
``scripts/privacy.py``); ``ship.ship`` is what ``scripts/ship_logs.py`` runs on each serving host.
Production (``ml_model``) never imports this package: the service only knows the shippers' ledger
(``ml_model.prediction_log.shipped_ledger``), so it never deletes a rotated file not yet shipped.
"""
