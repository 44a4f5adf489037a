"""Notifications: alert opened/resolved messages through silence → dedup → rate limit → send."""
