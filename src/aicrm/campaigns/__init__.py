"""aicrm.campaigns."""
