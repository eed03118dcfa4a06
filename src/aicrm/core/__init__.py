"""Configuration, database, errors and shared plumbing."""
