"""ingest stage of samcryo."""
