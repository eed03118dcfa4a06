"""Who may do what: one permission table per role, enforced on the server by the web layer's dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from aicrm.auth.models import ROLES

EVERYONE = frozenset(ROLES)
STAFF_READERS = frozenset({"admin", "manager", "analyst"})

# One row per permission. Agents are limited further by ``Principal.served_only`` (customers they serve)
# and analysts by ``Principal.masks_contact`` (no e-mail, phone or birth date): those narrow rows, not routes.
PERMISSIONS: dict[str, frozenset[str]] = {
    "customers:read": EVERYONE,
    "customers:write": frozenset({"admin", "manager"}),
    "notes:write": frozenset({"admin", "manager", "agent"}),
    "orders:read": EVERYONE,
    "products:read": EVERYONE,
    "feedback:read": EVERYONE,
    "support:read": EVERYONE,
    "support:write": frozenset({"admin", "manager", "agent"}),
    "analytics:read": STAFF_READERS,
    "campaigns:run": frozenset({"admin", "manager"}),
    "users:manage": frozenset({"admin"}),
    "settings:manage": frozenset({"admin"}),
}


def roles_for(permission: str) -> frozenset[str]:
    """The roles holding ``permission`` (an unknown permission is a programming error)."""
    return PERMISSIONS[permission]


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in user as the services see it: identity, role and how they authenticated."""

    id: int
    email: str
    role: str
    via: str = "token"  # token | session

    def can(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]

    @property
    def masks_contact(self) -> bool:
        """Analysts read everything, but personal contact details are hidden from them."""
        return self.role == "analyst"

    @property
    def served_only(self) -> bool:
        """Agents see only the customers they serve (those with a ticket or a conversation)."""
        return self.role == "agent"
