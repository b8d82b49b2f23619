"""Local fakes of third-party APIs (GitHub) that tests talk real HTTP to."""
