"""Users, roles, sign-in and the permission policy."""

from aicrm.auth.policy import PERMISSIONS, Principal

__all__ = ["PERMISSIONS", "Principal"]
