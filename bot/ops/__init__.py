"""Operations: health, metrics, logs, hot standby and the webhook server."""
