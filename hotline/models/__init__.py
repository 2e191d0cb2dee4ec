"""All models, imported here so Alembic and the app see one metadata."""

from hotline.models.base import Base, utcnow
from hotline.models.enums import (
    OPEN_STATUSES,
    AssignmentRole,
    Channel,
    Role,
    TicketStatus,
    TicketType,
    Urgency,
)
from hotline.models.ops import (
    AuditChainHead,
    CalendarDay,
    CalendarYear,
    OutboxItem,
    ReferenceCounter,
    SystemAlert,
)
from hotline.models.org import (
    CatalogueVersion,
    Category,
    Department,
    Hotline,
    RoutingRule,
    Territory,
    TerritoryAlias,
)
from hotline.models.tickets import (
    Assignment,
    Contact,
    Event,
    ExtensionRequest,
    Message,
    ReturnRequest,
    Supervision,
    Ticket,
    TicketArticle,
    Visit,
)
from hotline.models.users import ApiToken, User

__all__ = [
    "OPEN_STATUSES",
    "ApiToken",
    "Assignment",
    "AssignmentRole",
    "AuditChainHead",
    "Base",
    "CalendarDay",
    "CalendarYear",
    "CatalogueVersion",
    "Category",
    "Channel",
    "Contact",
    "Department",
    "Event",
    "ExtensionRequest",
    "Hotline",
    "Message",
    "OutboxItem",
    "ReferenceCounter",
    "ReturnRequest",
    "Role",
    "RoutingRule",
    "Supervision",
    "SystemAlert",
    "Territory",
    "TerritoryAlias",
    "Ticket",
    "TicketArticle",
    "TicketStatus",
    "TicketType",
    "Urgency",
    "User",
    "Visit",
    "utcnow",
]
