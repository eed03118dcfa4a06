"""aicrm.nlp."""
