"""workflow stage of samcryo."""
