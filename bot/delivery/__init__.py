"""The one door to Telegram: every send, edit and button answer goes out through here.

- door.py: what handlers and jobs hand messages to, and the guard that refuses sends
  made any other way
- sender.py: the send loop (answers to people, then alerts, then broadcasts, one pacer)
- replies.py: the lane of answers to people; claims.py: outbox claims, leases, heartbeats
- policy.py: what follows a send (errors mapped to actions, the outcome of each row)
- results.py: outcomes written in batches, and logged
- pacing.py: the global and per-chat rates; breaker.py: outages noticed and probed
- render.py, payload.py: the texts of alerts and broadcasts
- transport.py: HTTP to the Bot API; ptb.py: python-telegram-bot internals used
- jobs.py: a sender's configuration and the rows it claimed
"""
