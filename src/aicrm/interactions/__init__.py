"""aicrm.interactions."""
