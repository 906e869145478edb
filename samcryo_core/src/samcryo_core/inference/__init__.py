"""inference stage of samcryo."""
