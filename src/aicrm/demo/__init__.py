"""aicrm.demo."""
