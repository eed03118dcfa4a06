"""aicrm: a self-hosted, AI-driven customer relationship management platform."""

__version__ = "0.1.0"
