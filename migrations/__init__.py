"""Alembic migrations; run them with ``gatehouse db upgrade``."""
