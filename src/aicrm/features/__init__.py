"""aicrm.features."""
