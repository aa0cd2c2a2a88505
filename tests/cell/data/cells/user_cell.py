"""Chen2020 with a 4 Ah nominal capacity (test fixture for eomctl's .py cell files)."""

import pybamm

CHEMISTRY = "NMC811 / graphite-SiOx"


def get_parameter_values():
    values = dict(pybamm.parameter_sets["Chen2020"])
    values["Nominal cell capacity [A.h]"] = 4.0
    return values
