"""Security suite: object-level authorization, roles, mass assignment, secrets, HTTP hygiene.

The routes probed come from the application itself (`tests.security.inventory`), so that a new
route is probed, or fails a completeness test until someone says how to probe it.
"""
