"""aicrm.web."""
