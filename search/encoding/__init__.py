"""The encoding job: pending images in, stored vectors out.

``job`` (the batch loop) holds the corpus's ``leases``; ``recovery`` restarts stalled
corpora; ``preprocessing`` decodes an image to what the model sees; ``shutdown`` lets a
worker stop between batches. See docs/architecture.md.
"""
