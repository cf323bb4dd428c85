"""Ingest: scheduling polls, one poll (fetch → parse → summarize → store), queueing alerts.

scheduler.py  wakes when a feed is due and launches its poll (watcher.py)
watcher.py    the polls in flight, one task per feed
poll.py       one poll of one feed, and recording how it went
articles.py   article pages and each new story's summary
store.py      new entries and their alerts, in one transaction
topic_cache.py  the matching index of every topic
workers.py    CPU pools and per-host fetch slots
"""
