"""Alembic migrations of the coaching notification database (see ``activities.migrate``)."""
