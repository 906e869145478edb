"""model stage of samcryo."""
