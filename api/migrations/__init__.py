"""Alembic migrations of the service's database (applied by :meth:`api.db.Database.migrate`)."""
