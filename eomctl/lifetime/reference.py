"""Published cycle-life models to set simulated lifetimes beside.

Wang et al. 2011 (J. Power Sources 196:3942, doi:10.1016/j.jpowsour.2010.11.134) cycled A123 ANR26650M1
LFP / graphite cells (2.3 Ah; the cell of eomctl's ``A123-LFP``) over a matrix of temperatures, discharge rates and
depths of discharge and fitted the capacity loss to a power law in the charge throughput:

    Q_loss [%] = B(C) * exp(-E_a(C) / (R T)) * Ah^z,    E_a(C) = 31 700 - 370.3 C  [J/mol],    z = 0.55

with ``Ah`` the discharged charge throughput (cycles x DOD x capacity) and one pre-exponential factor per C-rate.
Only the four rates the paper fitted are offered: the paper gives no law for ``B`` between them, and a polynomial
for it seen in circulation does not reproduce its own table (it gives 33 900 at C/2 where the table has 31 630).
"""

from __future__ import annotations

import math

from eomctl.core.errors import ConfigError

GAS_CONSTANT_J_PER_MOL_K = 8.314
WANG2011_CITATION = "Wang et al., J. Power Sources 196 (2011) 3942, doi:10.1016/j.jpowsour.2010.11.134"
WANG2011_CAPACITY_AH = 2.3  # A123 ANR26650M1 nominal capacity
WANG2011_Z = 0.55  # power-law exponent of the throughput
WANG2011_B = {0.5: 31_630.0, 2.0: 21_681.0, 6.0: 12_934.0, 10.0: 15_512.0}  # pre-exponential factor per C-rate


def wang2011_activation_energy_j_per_mol(c_rate: float) -> float:
    """Wang et al. 2011's rate-dependent activation energy of the capacity loss [J/mol]."""
    return 31_700.0 - 370.3 * c_rate


def _prefactor(c_rate: float, temperature_k: float) -> float:
    if c_rate not in WANG2011_B:
        raise ConfigError(f"Wang et al. 2011 fitted C-rates {sorted(WANG2011_B)} only; got {c_rate}")
    if not temperature_k > 0:
        raise ConfigError(f"temperature must be positive [K]; got {temperature_k}")
    energy = wang2011_activation_energy_j_per_mol(c_rate)
    return WANG2011_B[c_rate] * math.exp(-energy / (GAS_CONSTANT_J_PER_MOL_K * temperature_k))


def wang2011_capacity_loss_pct(ah_throughput: float, c_rate: float, temperature_k: float) -> float:
    """Capacity loss [%] after ``ah_throughput`` discharged ampere-hours at ``c_rate`` and ``temperature_k``."""
    if ah_throughput < 0:
        raise ConfigError(f"throughput must be >= 0 A.h; got {ah_throughput}")
    return _prefactor(c_rate, temperature_k) * ah_throughput**WANG2011_Z


def wang2011_throughput_to_loss_ah(loss_pct: float, c_rate: float, temperature_k: float) -> float:
    """Discharged ampere-hours until the capacity loss reaches ``loss_pct`` [%] (the inverse of the law)."""
    if not loss_pct > 0:
        raise ConfigError(f"loss must be positive [%]; got {loss_pct}")
    return float((loss_pct / _prefactor(c_rate, temperature_k)) ** (1.0 / WANG2011_Z))
