"""aicrm.support."""
