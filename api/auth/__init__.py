"""Authentication and authorisation: access tokens, the bearer middleware, role guards, rate limits."""
