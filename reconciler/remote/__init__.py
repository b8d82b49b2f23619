"""Everything that talks to a remote API: the shared HTTP layer, the Zelto, Siro and GitHub clients,
target resolution, and reading Zelto's current state for a plan."""
