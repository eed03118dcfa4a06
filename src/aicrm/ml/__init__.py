"""aicrm.ml."""
