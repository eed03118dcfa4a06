"""aicrm.ingest."""
