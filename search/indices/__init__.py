"""Indices: stored vectors in, a searchable ScaNN directory out.

``build`` (rebuild / delta update, atomic swap) over ``scann_index`` (the pure ScaNN/numpy
layer); ``cache`` keeps one loaded searcher per (corpus, index version) per process.
See docs/indexing.md.
"""
