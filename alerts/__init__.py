"""Alerts: detect what duty staff must see, grade it, and deliver notifications."""
