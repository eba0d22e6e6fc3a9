"""Notebook 14 (the event store in production): PostgreSQL as the event store, concurrent writers and the positions
that a subscriber can trust, notifications instead of polling, database-per-service permissions."""
