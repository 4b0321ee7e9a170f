"""privtrak.conformance: test vectors, the adapter protocol and the runner."""
