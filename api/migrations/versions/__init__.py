"""Revisions, one file each, applied in order."""
