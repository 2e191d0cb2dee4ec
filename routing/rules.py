"""Pick the lead unit for a ticket from its catalogue rule and its territory (no app, no DB)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

VERTICAL = "vertical"
TERRITORIAL = "territorial"
MODES = frozenset({VERTICAL, TERRITORIAL})

DISTRICT = "district"
STREET = "street"
TERRITORY_LEVELS = frozenset({DISTRICT, STREET})


@dataclass(frozen=True)
class TerritoryInfo:
    """One link of an address's territory chain.

    `level` 1 is a district or county-level city (区/县级市), 2 a street or town (街道/镇).
    """

    code: str
    name: str
    level: int


@dataclass(frozen=True)
class RouteDecision:
    department_code: str
    reasons: list[str]
    # True when a territorial rule could not find the owning government and fell
    # back to the category's own unit (兜底).
    used_fallback: bool = False


def route(
    mode: str,
    department_code: str,
    territory_level: str,
    territory_chain: Sequence[TerritoryInfo],
    territorial_units: Mapping[str, str],
    *,
    category_code: str | None = None,
    unit_names: Mapping[str, str] | None = None,
) -> RouteDecision:
    """Apply one catalogue rule to a resolved address.

    `territory_chain` is the address's territories, district first (empty when the
    address is unknown); `territorial_units` maps a territory code to the code of
    the government unit that owns it (区/县级市政府, or a 街道/镇 unit where one
    exists). `unit_names` only makes the reasons readable.
    """
    if mode not in MODES:
        raise ValueError(f"unknown routing mode {mode!r}")
    if territory_level not in TERRITORY_LEVELS:
        raise ValueError(f"unknown territory level {territory_level!r}")
    names = unit_names or {}
    subject = f"分类 {category_code} " if category_code else ""

    def label(unit_code: str, default: str | None = None) -> str:
        return names.get(unit_code) or default or unit_code

    if mode == VERTICAL:
        return RouteDecision(department_code, [f"{subject}垂直管理 → {label(department_code)}"])

    district = next((t for t in territory_chain if t.level == 1), None)
    if district is None:
        return RouteDecision(
            department_code,
            [f"{subject}属地管理，地址所属区（市）不明 → 兜底派至 {label(department_code)}"],
            used_fallback=True,
        )
    where = "（地址位于 " + " ".join(t.name for t in territory_chain) + "）"

    if territory_level == STREET:
        street = next((t for t in reversed(territory_chain) if t.level == 2), None)
        if street is not None and street.code in territorial_units:
            unit = territorial_units[street.code]
            return RouteDecision(
                unit, [f"{subject}属地管理（街镇） → {label(unit, street.name)}{where}"]
            )

    unit = territorial_units.get(district.code)
    if unit is None:
        return RouteDecision(
            department_code,
            [
                f"{subject}属地管理，{district.name} 未设承办单位 → 兜底派至 "
                f"{label(department_code)}{where}"
            ],
            used_fallback=True,
        )
    reasons = [f"{subject}属地管理 → {label(unit, district.name)}{where}"]
    if territory_level == STREET:
        reasons.append("所在街道/镇未设承办单位，由区（市）承办")
    return RouteDecision(unit, reasons)
