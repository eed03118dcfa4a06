"""aicrm.assistant."""
