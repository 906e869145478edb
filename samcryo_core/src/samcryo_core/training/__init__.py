"""training stage of samcryo."""
