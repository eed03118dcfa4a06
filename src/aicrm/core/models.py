"""Imports every table so that ``Base.metadata`` is complete (for Alembic and tests)."""

from aicrm.auth.models import Role, User
from aicrm.campaigns.models import Campaign, CampaignMember, CampaignResponse
from aicrm.core.db import Base
from aicrm.customers.models import Customer, CustomerNote
from aicrm.feedback.models import Feedback
from aicrm.interactions.models import Interaction
from aicrm.ml.models import CustomerScore, ModelRun, ProductAssociation, Recommendation, StoreMetadata
from aicrm.orders.models import Order, OrderLine, ReturnRequest
from aicrm.privacy.models import AuditLog, Consent
from aicrm.products.models import Product
from aicrm.support.models import Conversation, Message, Ticket

__all__ = [
    "AuditLog", "Base", "Campaign", "CampaignMember", "CampaignResponse", "Consent", "Conversation", "Customer",
    "CustomerNote", "CustomerScore", "Feedback", "Interaction", "Message", "ModelRun", "Order", "OrderLine",
    "Product", "ProductAssociation", "Recommendation", "ReturnRequest", "Role", "StoreMetadata", "Ticket", "User",
]
