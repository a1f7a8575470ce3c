"""Coverage-guided fuzzing of the parsers that read untrusted bytes (atheris): `make fuzz-parsers`."""
