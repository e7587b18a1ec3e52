"""Warehouse: SQLAlchemy models, migrations, loads and queries (the only place with SQL)."""
