"""Water consumed for a run, in litres (Li et al., "Making AI Less Thirsty", 2023):

    on-site  = IT energy (kWh) x WUE (L/kWh; The Green Grid's WUE is per kWh of IT energy)
    off-site = facility energy (kWh) x the grid's water intensity (L/kWh generated)

The on-site part is always counted (a lab box without evaporative cooling sets WUE 0).
The off-site part only where a source for the zone is known (the table below, or a
setting); elsewhere it is left out and the method says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridwait.units import J_PER_KWH

DEFAULT_WUE = 1.8
WUE_SOURCE = (
    "1.8 L/kWh: US data-centre average on-site WUE, as used by Scope3's methodology"
    " (Li et al. 2023 use the same order)"
)
US_GRID_WATER = 3.67
"""L/kWh of US electricity (Scope3's methodology, cited by the reference notes)."""
_GRID_WATER: dict[str, tuple[float, str]] = {
    "US": (US_GRID_WATER, "3.67 L/kWh: US grid average water consumption (Scope3 methodology)"),
}
"""Zone prefixes (Electricity Maps style: US, US-TEX-ERCO, ...) with a sourced grid water
intensity. Only sourced figures go here; other zones count on-site water only."""


@dataclass(frozen=True)
class GridWater:
    l_per_kwh: float
    source: str


def grid_water(zone: str, override: float | None = None) -> GridWater | None:
    """The zone's grid water intensity, a configured one first; None where none is known."""
    if override is not None:
        return GridWater(override, f"{override:g} L/kWh (footprint.grid_water_l_per_kwh)")
    for prefix, (value, source) in _GRID_WATER.items():
        if zone == prefix or zone.startswith(prefix + "-"):
            return GridWater(value, source)
    return None


@dataclass(frozen=True)
class Water:
    litres: float
    onsite_l: float
    grid_l: float | None
    """None when no grid water intensity is known for the zone."""
    method: str


def water(it_j: float, facility_j: float, wue: float, grid: GridWater | None) -> Water:
    """Litres for a run's IT and facility energy (joules)."""
    onsite = it_j / J_PER_KWH * wue
    if grid is None:
        return Water(
            onsite, onsite, None, f"on-site only (WUE {wue:g} L/kWh); no grid water source"
        )
    off = facility_j / J_PER_KWH * grid.l_per_kwh
    return Water(onsite + off, onsite, off, f"on-site WUE {wue:g} L/kWh + grid {grid.source}")
