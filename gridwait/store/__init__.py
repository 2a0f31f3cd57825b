"""SQLite persistence: tables (models), the engine and `Store` (engine), migrations, the
ORM write paths (jobs, runs, ...) and the fast read-only listing path (reader, queries).

Nothing is imported here, so that the read path does not pay for SQLAlchemy.
"""
