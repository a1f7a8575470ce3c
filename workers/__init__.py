"""Dramatiq broker, middleware and actors: thin wrappers around plain async functions."""
