"""Bundled data files: stop words, off-topic probe questions."""
