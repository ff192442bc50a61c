"""Text search: words in tags, predicted labels, captions and file names (``ranking``).
See docs/metadata.md.
"""
