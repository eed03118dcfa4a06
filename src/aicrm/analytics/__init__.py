"""aicrm.analytics."""
