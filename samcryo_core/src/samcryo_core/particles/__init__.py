"""particles stage of samcryo."""
