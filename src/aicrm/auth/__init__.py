"""aicrm.auth."""
