"""aicrm.marketing."""
