"""Persistence: the append-only SQLite event store and its schema."""
