"""Local fakes of external services that speak the real wire protocols, for tests with no network."""
