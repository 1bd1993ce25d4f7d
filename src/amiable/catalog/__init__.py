"""Metadata: SQLAlchemy Core tables on SQLite, their queries and migrations.

Knows rows, not EC2 rules; `cloud/` decides what the rows mean.
"""
