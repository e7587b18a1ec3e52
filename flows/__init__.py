"""Flows: Prefect flows and the CLI that wire the stages together (no business logic)."""
