"""preprocess stage of samcryo."""
