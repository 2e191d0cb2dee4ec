"""Routing suggestions for a request: POST /routing/suggest."""

from __future__ import annotations

from hotline.errors import PermissionDenied
from hotline.models import Role
from web.api import actor, bp, parse
from web.api.schemas import RoutingSuggest

# Who routes or oversees routing; handlers see only their own unit's tickets.
ROUTERS = (Role.AGENT, Role.DISPATCHER, Role.ADMIN, Role.SUPERVISOR)


@bp.post("/routing/suggest")
def suggest_routing():  # type: ignore[no-untyped-def]
    if actor().role not in ROUTERS:
        raise PermissionDenied(
            "only the hotline office routes tickets", "仅热线办人员可获取派单建议"
        )
    body = parse(RoutingSuggest)
    from routing.suggest import suggest, versions

    suggestions = suggest(body.text, body.address, body.phone, body.lat, body.lng)
    catalogue_version, model_version = versions()
    return {
        "suggestions": [s.as_dict() for s in suggestions],
        "catalogue_version": catalogue_version,
        "model_version": model_version,
    }
