"""Scheduled jobs (python-telegram-bot's JobQueue): thin callbacks that call a service."""
