"""io stage of samcryo."""
