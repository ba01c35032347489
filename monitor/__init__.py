"""closeloop's monitor: config, CLI and daemon wiring, sources, the scorer, the ranker, the ingest pipeline."""
