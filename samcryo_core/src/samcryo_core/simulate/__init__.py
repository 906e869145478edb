"""simulate stage of samcryo."""
