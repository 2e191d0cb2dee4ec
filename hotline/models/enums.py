"""The vocabularies of the 12345 domain, as str enums (stored as their values)."""

from __future__ import annotations

from enum import StrEnum


class TicketStatus(StrEnum):
    ACCEPTED = "accepted"
    PENDING_SIGN = "pending_sign"
    IN_PROGRESS = "in_progress"
    RETURN_REVIEW = "return_review"
    EXTENSION_REVIEW = "extension_review"
    REPLY_REVIEW = "reply_review"
    PENDING_VISIT = "pending_visit"
    CLOSED = "closed"
    MERGED = "merged"


OPEN_STATUSES = frozenset(TicketStatus) - {TicketStatus.CLOSED, TicketStatus.MERGED}


class TicketType(StrEnum):
    CONSULT = "consult"
    HELP = "help"
    COMPLAINT = "complaint"
    REPORT = "report"
    SUGGESTION = "suggestion"
    PRAISE = "praise"


class Urgency(StrEnum):
    EMERGENCY = "emergency"
    UTILITIES = "utilities"
    GENERAL = "general"
    COMPLEX = "complex"


class Channel(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    WEB = "web"
    WINDOW = "window"
    CHAT = "chat"
    OPEN311 = "open311"
    API = "api"


class Role(StrEnum):
    AGENT = "agent"
    DISPATCHER = "dispatcher"
    HANDLER = "handler"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    EDITOR = "editor"


class AssignmentRole(StrEnum):
    LEAD = "lead"
    ASSIST = "assist"
    CC = "cc"


class AssignmentState(StrEnum):
    ACTIVE = "active"
    RETURNED = "returned"
    CLOSED = "closed"


class ReviewDecision(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ReplyResult(StrEnum):
    SOLVED = "solved"
    PARTLY = "partly"
    UNSOLVED = "unsolved"
    EXPLAINED = "explained"


class Solved(StrEnum):
    SOLVED = "solved"
    PARTLY = "partly"
    UNSOLVED = "unsolved"


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASIC = "basic"
    DISSATISFIED = "dissatisfied"


class Disposition(StrEnum):
    """How a ticket left the system (直接答复, 不予受理, 转紧急热线, 回访办结 …)."""

    DIRECT_ANSWER = "direct_answer"
    REJECTED = "rejected"
    EMERGENCY = "emergency"
    VISITED = "visited"
    UNREACHABLE = "unreachable"
    MERGED = "merged"


class RejectReason(StrEnum):
    LITIGATION = "litigation"
    ARBITRATION = "arbitration"
    PETITION = "petition"
    OUT_OF_JURISDICTION = "out_of_jurisdiction"
    MALICIOUS = "malicious"
    INVALID = "invalid"
    OTHER = "other"


class EmergencyLine(StrEnum):
    POLICE = "110"
    FIRE = "119"
    AMBULANCE = "120"
    TRAFFIC = "122"


class SupervisionKind(StrEnum):
    URGE = "urge"
    SUPERVISE = "supervise"


class MessageDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # handed to Twilio, its answer not recorded yet
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    HELD = "held"
    RECEIVED = "received"


class RoutingMode(StrEnum):
    VERTICAL = "vertical"
    TERRITORIAL = "territorial"


class HotlineStatus(StrEnum):
    MERGED = "merged"
    KEPT = "kept"
    EMERGENCY = "emergency"
