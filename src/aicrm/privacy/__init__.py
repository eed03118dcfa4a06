"""aicrm.privacy."""
