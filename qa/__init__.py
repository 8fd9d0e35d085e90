"""Offline Chinese document question answering with exact citations."""
