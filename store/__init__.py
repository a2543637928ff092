"""The database: SQLAlchemy models, engine/session helpers, queries and Alembic migrations.

This is the only package that writes SQL; everything else calls the functions in ``store.queries``.
"""
