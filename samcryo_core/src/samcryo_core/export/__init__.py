"""export stage of samcryo."""
