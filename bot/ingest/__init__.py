"""Ingest: scheduling polls, one poll, article pages, storing entries and queueing alerts."""
