"""evaluation stage of samcryo."""
