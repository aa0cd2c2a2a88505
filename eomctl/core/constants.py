"""Physical constants and unit conversions, defined once (CODATA 2018 values through :mod:`scipy.constants`)."""

from __future__ import annotations

from scipy import constants as _codata

FARADAY_C_PER_MOL: float = _codata.physical_constants["Faraday constant"][0]
"""Faraday constant F [C/mol]."""

GAS_CONSTANT_J_PER_MOL_K: float = _codata.R
"""Molar gas constant R [J/(mol K)]."""

KELVIN_OFFSET: float = _codata.zero_Celsius
"""0 degC in kelvin (273.15): ``temperature_k = temperature_c + KELVIN_OFFSET``."""

SECONDS_PER_HOUR: float = 3600.0
"""Seconds in an hour: ``charge_ah = charge_c / SECONDS_PER_HOUR``."""


def celsius_to_kelvin(temperature_c: float) -> float:
    """A temperature in kelvin from degrees Celsius."""
    return temperature_c + KELVIN_OFFSET
