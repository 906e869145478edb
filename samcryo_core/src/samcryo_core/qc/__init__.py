"""qc stage of samcryo."""
