"""Moved: the feed commands live in bot/services/feed_admin.py (kept until the CLI moves)."""

from bot.services.feed_admin import import_lines, read_opml_file, run_feeds, status_lines

__all__ = ["import_lines", "read_opml_file", "run_feeds", "status_lines"]
