"""Delivery: render notifications and hand outbox messages to channels (robots, e-mail, files)."""
