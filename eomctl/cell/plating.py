"""Thermodynamically consistent, temperature-dependent lithium plating kinetics for PyBaMM's plating submodel.

PyBaMM's "reversible" / "partially reversible" plating (O'Kane et al. 2020, J. Electrochem. Soc. 167:090540; 2022,
Phys. Chem. Chem. Phys. 24:7909) writes the net stripping current density as

    j = j0_str exp(alpha_s F eta / RT) - j0_pl exp(-alpha_p F eta / RT),    j0_str = F k c_Li,  j0_pl = F k c_e,

with ``eta`` the potential of the graphite surface against a lithium metal reference in the same electrolyte (the
"lithium plating overpotential"). Its zero is not at ``eta = 0``: with little plated lithium (``c_Li -> 0``) the
cathodic branch alone remains, so the model plates at positive ``eta`` (0.1-0.2 V vs Li/Li+ at 0 C on the LG M50),
where lithium metal is not stable. The reaction then runs against its own driving force (``j * eta < 0``), which
destroys entropy: it breaks the second law.

:class:`ConsistentPlating` keeps the Butler-Volmer form whose zero is the lithium metal equilibrium, ``eta = 0``
(the onset condition of Arora, Doyle & White 1999, J. Electrochem. Soc. 146:3543: deposition only below 0 V vs
Li/Li+), and lets each branch's exchange current act on its own side of it::

    BV(eta) = exp(alpha_s F eta / RT) - exp(-alpha_p F eta / RT)          (sign of eta, 0 at eta = 0)
    j = j0_str * max(BV, 0) + j0_pl * min(BV, 0)

Below 0 V lithium plates with O'Kane's plating exchange current (the whole graphite surface can take a deposit);
above it plated lithium strips with the stripping exchange current, which vanishes with the plated lithium
(``c_Li -> 0``): no plated lithium, no reaction. ``j * eta >= 0`` everywhere: the reaction always dissipates.

Both exchange currents carry an Arrhenius factor ``exp(E_a / R (1 / T_ref - 1 / T))`` (O'Kane's have none, so
"colder plates more" came only from electrolyte and diffusion). The rate-limiting steps of Li+ reduction at a
SEI-covered graphite surface, desolvation and transport through the SEI, are shared by intercalation and plating
(Xu et al. 2007, J. Phys. Chem. C 111:7411; Jow et al. 2018, J. Electrochem. Soc. 165:A361), so the default activation
energy is that of the cell's graphite charge transfer: 35 kJ/mol (Chen et al. 2020, J. Electrochem. Soc. 167:080534,
the LG M50 set O'Kane 2022 builds on; Prada et al. 2013's graphite uses the same value). A cell file may set its own
under :data:`ACTIVATION_ENERGY`; ``T_ref`` is 25 C, where O'Kane's rate constants were fitted.
"""

from __future__ import annotations

import math
from typing import Any

import pybamm

#: Parameter name of the plating/stripping activation energy (one value: the two branches share the rate-limiting
#: desolvation step, so their ratio does not change with temperature).
ACTIVATION_ENERGY = "Lithium plating activation energy [J.mol-1]"
#: Default activation energy [J/mol] (see the module docstring for the source).
DEFAULT_ACTIVATION_ENERGY_J_PER_MOL = 35_000.0
#: Temperature at which the cell's plating rate constants hold [K].
REFERENCE_TEMPERATURE_K = 298.15
#: Names this module adds to a parameter set (a cell file may set them).
PARAMETER_NAMES = (ACTIVATION_ENERGY,)


def arrhenius(temperature_k: Any, activation_j_per_mol: Any) -> Any:
    """``exp(E_a / R (1 / T_ref - 1 / T))``: 1 at 25 C, below 1 colder (numbers or PyBaMM symbols)."""
    r = pybamm.constants.R.value
    exponent = activation_j_per_mol / r * (1.0 / REFERENCE_TEMPERATURE_K - 1.0 / temperature_k)
    return pybamm.exp(exponent) if isinstance(exponent, pybamm.Symbol) else math.exp(exponent)


def net_stripping_current(
    eta_v: Any, temperature_k: Any, j0_stripping: Any, j0_plating: Any, alpha_stripping: Any, alpha_plating: Any
) -> Any:
    """Net stripping current density [A/m2] (negative = plating) of the consistent kinetics (module docstring).

    Works on PyBaMM symbols (the model) and on floats (tests, figures).
    """
    symbolic = isinstance(eta_v, pybamm.Symbol)
    exp = pybamm.exp if symbolic else math.exp
    f_rt = pybamm.constants.F.value / (pybamm.constants.R.value * temperature_k)
    bv = exp(alpha_stripping * f_rt * eta_v) - exp(-alpha_plating * f_rt * eta_v)
    if symbolic:
        return j0_stripping * pybamm.maximum(bv, 0) + j0_plating * pybamm.minimum(bv, 0)
    return j0_stripping * max(bv, 0.0) + j0_plating * min(bv, 0.0)


def okane_net_stripping_current(
    eta_v: float, temperature_k: float, j0_stripping: float, j0_plating: float, alpha_stripping: float,
    alpha_plating: float,
) -> float:  # fmt: skip
    """PyBaMM's (O'Kane's) net stripping current density [A/m2] at the same inputs, for comparison."""
    f_rt = pybamm.constants.F.value / (pybamm.constants.R.value * temperature_k)
    anodic, cathodic = math.exp(alpha_stripping * f_rt * eta_v), math.exp(-alpha_plating * f_rt * eta_v)
    return j0_stripping * anodic - j0_plating * cathodic


def exchange_currents(
    values: pybamm.ParameterValues, c_e_mol_m3: float, c_plated_mol_m3: float, temperature_k: float
) -> tuple[float, float]:
    """``(j0_plating, j0_stripping)`` [A/m2] of the negative electrode with this module's Arrhenius factor, as the
    consistent model evaluates them, processed from a cell's parameter values (the activation energy defaulted)."""
    values = values.copy()
    if ACTIVATION_ENERGY not in values:
        values.update({ACTIVATION_ENERGY: DEFAULT_ACTIVATION_ENERGY_J_PER_MOL}, check_already_exists=False)
    phase = pybamm.LithiumIonParameters().n.prim
    c_e, c_li, t = pybamm.Scalar(c_e_mol_m3), pybamm.Scalar(c_plated_mol_m3), pybamm.Scalar(temperature_k)
    factor = arrhenius(t, pybamm.Parameter(ACTIVATION_ENERGY))
    j0_pl = values.process_symbol(phase.j0_plating(c_e, c_li, t) * factor).evaluate()
    j0_str = values.process_symbol(phase.j0_stripping(c_e, c_li, t) * factor).evaluate()
    return float(j0_pl), float(j0_str)


def transfer_coefficients(values: pybamm.ParameterValues) -> tuple[float, float]:
    """``(alpha_stripping, alpha_plating)`` of a cell's parameter values."""
    alpha_plating = float(values["Lithium plating transfer coefficient"])
    return 1.0 - alpha_plating, alpha_plating


class ConsistentPlating(pybamm.lithium_plating.Plating):
    """PyBaMM's plating submodel (states, dead lithium, SEI coupling unchanged) with the consistent, Arrhenius
    kinetics of this module in place of its reaction rate."""

    def get_coupled_variables(self, variables: dict[str, Any]) -> dict[str, Any]:
        phase_param = self.phase_param
        _, domain_title = self.domain_Domain
        delta_phi = variables[f"{domain_title} electrode surface potential difference [V]"]
        c_e = variables[f"{domain_title} electrolyte concentration [mol.m-3]"]
        temperature = variables[f"{domain_title} electrode temperature [K]"]
        eta_sei = variables[f"{domain_title} electrode {self.phase_name}SEI film overpotential [V]"]
        c_plated = variables[f"{domain_title} {self.phase_name}lithium plating concentration [mol.m-3]"]
        factor = arrhenius(temperature, pybamm.Parameter(ACTIVATION_ENERGY))
        j0_stripping = phase_param.j0_stripping(c_e, c_plated, temperature) * factor
        j0_plating = phase_param.j0_plating(c_e, c_plated, temperature) * factor
        eta = delta_phi + eta_sei
        j = net_stripping_current(
            eta, temperature, j0_stripping, j0_plating, phase_param.alpha_stripping, phase_param.alpha_plating
        )
        if getattr(getattr(self.options, self.domain), self.phase)["lithium plating"] == "irreversible":
            j = pybamm.minimum(j, 0)  # no stripping: every plated atom is lost
        variables.update(self._get_standard_overpotential_variables(eta))
        variables.update(self._get_standard_reaction_variables(j))
        # The base class's coupled variables (totals, capacity loss), skipping Plating's own rate law.
        variables.update(super(pybamm.lithium_plating.Plating, self).get_coupled_variables(variables))
        return variables


def use_consistent_plating(model: pybamm.BaseModel) -> int:
    """Swap every plating submodel of an unbuilt ``model`` (``build=False``) for :class:`ConsistentPlating`.

    Returns how many were swapped (0 when the model has no plating).
    """
    swapped = 0
    for name, submodel in list(model.submodels.items()):
        if type(submodel) is pybamm.lithium_plating.Plating:
            model.submodels[name] = ConsistentPlating(
                submodel.param, submodel.domain, submodel.x_average, submodel.options, submodel.phase
            )
            swapped += 1
    return swapped
