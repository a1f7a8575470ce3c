"""Schema fuzzing (make fuzz): Schemathesis against the app's own OpenAPI schema."""
