"""Shared foundations: settings, Postgres and Redis clients, logging, metrics, embedded dev services."""
