"""aicrm.products."""
