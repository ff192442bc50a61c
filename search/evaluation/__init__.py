"""Offline evaluation of encoders and indices: mAP@k / mAR@k on labelled image sets.

``metrics`` (pure numpy) → ``datasets`` (what images, which are relevant) → ``vectors``
(encode once, cache on disk) → ``runner`` (split, search, score) → ``report`` (JSON, table,
plots). ``manage.py evaluate`` wires them together; see docs/evaluation.md.
"""
