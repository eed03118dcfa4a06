"""aicrm.scoring."""
