"""Results on disk: the run store (manifest, records, segments), summaries, exports, atomic writes."""
