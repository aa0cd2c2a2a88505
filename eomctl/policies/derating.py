"""Charge-current derating tables: the fraction of a charger's nominal current allowed by cell temperature and SOC.

A real charger does not see the anode potential. What it has is a thermistor and a coulomb counter, and it charges a
cold cell from a table of current by temperature band (and, in automotive packs, by SOC band). The table every
charger IC implements is the JEITA guideline's ("A Guide to the Safe Use of Secondary Lithium Ion Batteries in
Notebook-type Personal Computers", JEITA/BAJ, 2007): full current from 10 to 45 C, about half of it from 0 to 10 C (or a
lower charge voltage), and no charging below 0 C. Charger ICs take the "half current" reading (e.g. TI's JEITA
design note: 0.5 C from 0 to 10 C).

A charger that must charge below 0 C (the premise of the ``ColdFastCharge`` scenario) needs a band there; JEITA has
none, so the tables below extend it with a reduced band, as automotive derating maps do. The extension's values are
this project's choice, labelled so in each table, not taken from a source: they are what the tuning of the charger's
nominal rate (to the agent's mean charge time) then scales.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from eomctl.core.errors import ConfigError


@dataclass(frozen=True)
class DeratingTable:
    """Current fractions ``fractions[i][j]`` for temperature band ``i`` and SOC band ``j``.

    Band ``i`` covers ``temperature_edges_c[i - 1] <= T < temperature_edges_c[i]`` (the first and last bands are
    open), band ``j`` likewise on ``soc_edges``; so there are ``len(edges) + 1`` bands along each axis.
    """

    name: str
    temperature_edges_c: tuple[float, ...]
    soc_edges: tuple[float, ...]
    fractions: tuple[tuple[float, ...], ...]
    source: str

    def __post_init__(self) -> None:
        shape = (len(self.temperature_edges_c) + 1, len(self.soc_edges) + 1)
        if np.shape(self.fractions) != shape:
            raise ConfigError(f"derating table '{self.name}': fractions must be {shape[0]} x {shape[1]} (bands)")
        for edges in (self.temperature_edges_c, self.soc_edges):
            if list(edges) != sorted(edges):
                raise ConfigError(f"derating table '{self.name}': band edges must increase; got {list(edges)}")
        if not all(0.0 <= f <= 1.0 for row in self.fractions for f in row):
            raise ConfigError(f"derating table '{self.name}': fractions must lie in [0, 1]")

    def fraction(self, temperature_c: float, soc: float) -> float:
        """The allowed fraction of the nominal current at ``temperature_c`` [C] and ``soc`` [-]."""
        i = int(np.searchsorted(self.temperature_edges_c, temperature_c, side="right"))
        j = int(np.searchsorted(self.soc_edges, soc, side="right"))
        return self.fractions[i][j]


TABLES: Mapping[str, DeratingTable] = {
    table.name: table
    for table in (
        DeratingTable(
            name="jeita",
            temperature_edges_c=(0.0, 10.0, 45.0),
            soc_edges=(),
            fractions=((0.25,), (0.5,), (1.0,), (0.0,)),
            source=(
                "JEITA/BAJ 2007 bands: 1.0 from 10 to 45 C, 0.5 from 0 to 10 C (the charger-IC reading), none above "
                "45 C; below 0 C, where JEITA stops charging, 0.25 (this project's extension)"
            ),
        ),
        DeratingTable(
            name="jeita_soc",
            temperature_edges_c=(0.0, 10.0, 45.0),
            soc_edges=(0.5,),
            fractions=((0.25, 0.125), (0.5, 0.25), (1.0, 1.0), (0.0, 0.0)),
            source=(
                "the 'jeita' table, halved again above 50 % SOC below 10 C (this project's choice, after the "
                "automotive practice of derating by SOC in the cold, where the anode potential is lowest late in "
                "the charge)"
            ),
        ),
    )
}


def derating_table(name: str) -> DeratingTable:
    """The table called ``name`` (see :data:`TABLES`); :class:`ConfigError` naming the known ones otherwise."""
    try:
        return TABLES[name]
    except KeyError:
        raise ConfigError(f"unknown derating table '{name}'; known: {sorted(TABLES)}") from None
