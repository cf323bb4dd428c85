"""A chat's delivery preferences: digest times, quiet hours, its time zone (pure functions)."""
