"""aicrm.orders."""
