"""aicrm.customers."""
