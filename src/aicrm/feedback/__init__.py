"""aicrm.feedback."""
