"""model/prompts stage of samcryo."""
