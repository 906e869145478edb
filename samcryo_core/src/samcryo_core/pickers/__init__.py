"""pickers stage of samcryo."""
