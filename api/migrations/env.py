"""Alembic environment: migrations run on the connection :mod:`api.db` gives, in its transaction.

:meth:`api.db.Database.migrate` opens the transaction (SQLite ``BEGIN IMMEDIATE``, PostgreSQL
with an advisory lock), so two processes starting at once migrate one after the other; here
Alembic only runs the revisions inside it. There is no ``alembic.ini``: use
``cartosoins migrate``.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only api.db runs the migrations
    raise RuntimeError("run the migrations with `cartosoins migrate` (api.db.Database.migrate)")

context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
