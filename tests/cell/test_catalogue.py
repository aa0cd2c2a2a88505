"""Tests of eomctl.cell.catalogue: the cell catalogue, cell files and parameter checks (real PyBaMM, no mocks)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pybamm
import pytest
import yaml

from eomctl.cell.catalogue import catalogue, check_parameters, format_catalogue, load_cell
from eomctl.core.errors import (
    CellFileError,
    EomctlError,
    MissingParameterError,
    NonPhysicalParameterError,
    UnknownCellError,
)

DATA = Path(__file__).parent / "data" / "cells"
LUMPED_SEI_PLATING = {
    "thermal": "lumped",
    "SEI": "solvent-diffusion limited",
    "lithium plating": "partially reversible",
}


def raised(excinfo: pytest.ExceptionInfo[Exception], *fragments: str) -> str:
    """Assert the error is eomctl's own (not PyBaMM's, pydantic's or yaml's) and names every fragment."""
    err = excinfo.value
    assert isinstance(err, EomctlError)
    assert type(err).__module__ == "eomctl.core.errors"
    message = str(err)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- names ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "name", "chemistry", "capacity_ah", "window"),
    [
        ("LGM50", "LGM50", "NMC811 / graphite-SiOx", 5.0, (2.5, 4.2)),
        ("lgm50", "LGM50", "NMC811 / graphite-SiOx", 5.0, (2.5, 4.2)),
        ("A123-LFP", "A123-LFP", "LFP / graphite", 2.3, (2.0, 3.6)),
        ("a123-lfp", "A123-LFP", "LFP / graphite", 2.3, (2.0, 3.6)),
    ],
)
def test_builtin_cells_load_case_insensitively(
    spec: str, name: str, chemistry: str, capacity_ah: float, window: tuple[float, float]
) -> None:
    cell = load_cell(spec)
    assert (cell.name, cell.chemistry, cell.builtin) == (name, chemistry, True)
    assert cell.capacity_ah == capacity_ah
    assert (cell.v_min_v, cell.v_max_v) == window
    assert (cell.sei_option, cell.plating_option, cell.heat_of_mixing) == (
        "solvent-diffusion limited",
        "partially reversible",
        True,
    )


@pytest.mark.parametrize(
    ("spec", "name"), [("Chen2020", "Chen2020"), ("chen2020", "Chen2020"), ("ORegan2022", "ORegan2022")]
)
def test_pybamm_parameter_sets_load_by_name(spec: str, name: str) -> None:
    cell = load_cell(spec)
    expected = pybamm.ParameterValues(name)
    assert cell.name == name
    assert not cell.builtin
    assert cell.capacity_ah == expected["Nominal cell capacity [A.h]"]
    assert cell.v_max_v == expected["Upper voltage cut-off [V]"]
    assert cell.heat_of_mixing is (cell.name == "Chen2020")  # docs/physics.md §7, pitfall 2: not for ORegan2022


def test_raw_sets_report_which_degradation_options_they_support() -> None:
    assert load_cell("Prada2013").sei_option is None
    assert load_cell("Prada2013").plating_option is None
    assert load_cell("Chen2020").sei_option == "solvent-diffusion limited"
    assert load_cell("Chen2020").plating_option is None
    assert load_cell("OKane2022").plating_option == "partially reversible"
    assert load_cell("OKane2022").heat_of_mixing is False  # its spline OCP breaks PyBaMM's heat-of-mixing Jacobian


@pytest.mark.parametrize(
    ("spec", "suggestion"),
    [("Chen202", "'Chen2020'"), ("LGM5O", "'LGM50'"), ("prada", "'Prada2013'"), ("zzz-cell", "")],
)
def test_unknown_name_suggests_close_matches(spec: str, suggestion: str) -> None:
    with pytest.raises(UnknownCellError) as excinfo:
        load_cell(spec)
    message = raised(excinfo, f"unknown cell '{spec}'")
    if suggestion:
        assert f"did you mean {suggestion}" in message
    else:
        assert "known cells" in message and "A123-LFP" in message


# --- BPX -----------------------------------------------------------------------------------------------------------


def test_bpx_file_loads() -> None:
    cell = load_cell(DATA / "toy_bpx.json")
    assert cell.name == "toy_bpx"
    assert (cell.capacity_ah, cell.v_min_v, cell.v_max_v) == (2.5, 2.4, 4.0)
    assert cell.parameter_values["Separator thickness [m]"] == pytest.approx(1.2e-5)
    assert "toy NMC / graphite" in cell.source


def test_bpx_missing_required_field_names_it() -> None:
    with pytest.raises(CellFileError) as excinfo:
        load_cell(DATA / "bpx_missing_field.json")
    raised(excinfo, "bpx_missing_field.json", "Separator", "Thickness [m]", "Field required")


def test_invalid_json_gives_line_number(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.json", '{\n  "base": "Chen2020",\n  "overrides": {,}\n}\n')
    with pytest.raises(CellFileError) as excinfo:
        load_cell(path)
    raised(excinfo, "broken.json", "line 3")


# --- eomctl YAML / JSON cell files ---------------------------------------------------------------------------------


def test_yaml_overrides_are_applied() -> None:
    cell = load_cell(DATA / "user_cell.yaml")
    values = cell.parameter_values
    assert cell.name == "chen-thick-anode"
    assert cell.chemistry == "NMC811 / graphite-SiOx"  # inherited from the base
    assert values["Negative electrode thickness [m]"] == 9.0e-5
    assert values["Positive electrode thickness [m]"] == 8e-5
    assert values["Total heat transfer coefficient [W.m-2.K-1]"] == 25.0
    assert load_cell("Chen2020").parameter_values["Negative electrode thickness [m]"] != 9.0e-5


def test_json_in_eomctl_format_is_not_taken_for_bpx(tmp_path: Path) -> None:
    spec = {"base": "Prada2013", "overrides": {"Separator porosity": 0.5}}
    cell = load_cell(write(tmp_path, "porous.json", json.dumps(spec)))
    assert cell.parameter_values["Separator porosity"] == 0.5
    assert cell.chemistry == "LFP / graphite"


def test_builtin_data_file_doubles_as_a_user_cell_file() -> None:
    by_path = load_cell(Path(__file__).parents[2] / "eomctl" / "data" / "cells" / "a123_lfp.yaml")
    by_name = load_cell("A123-LFP")
    assert by_path.parameter_values["Cell volume [m3]"] == by_name.parameter_values["Cell volume [m3]"] == 3.451e-5
    assert not by_path.builtin and by_name.builtin


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("base: Chen2020\noverrides:\n  a: [1, 2\n", ("malformed YAML", "line 4")),
        ("name: no-base\noverrides: {}\n", ("'base'",)),
        ("base: Chen202\n", ("'base'", "did you mean 'Chen2020'")),
        ("base: Chen2020\noverrides: [1, 2]\n", ("'overrides'", "mapping")),
        ("base: Chen2020\noverrides:\n  Negative electrode thickness [m]: thick\n", ("Negative electrode thickness",)),
        ("base: Chen2020\noverides: {}\n", ("unknown key 'overides'",)),
        ("base: Chen2020\nsei_option: fast\n", ("sei_option", "fast")),
        ("base: Chen2020\noverrides:\n  Cell volume [m3]: {from: NoSuchSet}\n", ("Cell volume [m3]", "NoSuchSet")),
        ("- just\n- a list\n", ("mapping",)),
    ],
)
def test_malformed_cell_files_name_the_problem(tmp_path: Path, text: str, fragments: tuple[str, ...]) -> None:
    path = write(tmp_path, "cell.yaml", text)
    with pytest.raises(CellFileError) as excinfo:
        load_cell(path)
    raised(excinfo, "cell.yaml", *fragments)


def test_a_number_may_replace_a_function(tmp_path: Path) -> None:
    path = write(tmp_path, "flat.yaml", "base: Chen2020\noverrides:\n  Negative electrode OCP [V]: 0.1\n")
    assert load_cell(path).parameter_values["Negative electrode OCP [V]"] == 0.1


def test_from_override_copies_a_function_from_another_set() -> None:
    entropic = load_cell("A123-LFP").parameter_values["Negative electrode OCP entropic change [V.K-1]"]
    assert entropic is pybamm.ParameterValues("ORegan2022")["Negative electrode OCP entropic change [V.K-1]"]


def test_non_numeric_override_of_a_function_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "cell.yml", "base: Chen2020\noverrides:\n  Negative electrode OCP [V]: low\n")
    with pytest.raises(CellFileError) as excinfo:
        load_cell(path)
    raised(excinfo, "'Negative electrode OCP [V]'", "must be a number (the base value is a function)", "'low'")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(CellFileError) as excinfo:
        load_cell(tmp_path / "nowhere.yaml")
    raised(excinfo, "not found", str(tmp_path / "nowhere.yaml"))


def test_declared_option_without_its_parameters_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "lfp.yaml", "base: Prada2013\nsei_option: solvent-diffusion limited\n")
    with pytest.raises(MissingParameterError) as excinfo:
        load_cell(path)
    raised(excinfo, "cell 'lfp'", "SEI solvent diffusivity [m2.s-1]")


# --- Python cell files ---------------------------------------------------------------------------------------------


def test_python_cell_file_loads() -> None:
    cell = load_cell(DATA / "user_cell.py")
    assert (cell.name, cell.capacity_ah, cell.chemistry) == ("user_cell", 4.0, "NMC811 / graphite-SiOx")
    assert cell.source.startswith("Chen2020 with a 4 Ah")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("VALUES = {}\n", ("get_parameter_values()",)),
        ("def get_parameter_values():\n    return 1 / 0\n", ("ZeroDivisionError",)),
        ("import no_such_module_for_eomctl\n", ("ModuleNotFoundError",)),
    ],
)
def test_broken_python_cell_files_name_the_file(tmp_path: Path, text: str, fragments: tuple[str, ...]) -> None:
    path = write(tmp_path, "mycell.py", text)
    with pytest.raises(CellFileError) as excinfo:
        load_cell(path)
    raised(excinfo, str(path), *fragments)


# --- physical validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "requirement"),
    [
        ("Negative electrode thickness [m]", -8.5e-5, "> 0"),
        ("Positive particle radius [m]", 0.0, "> 0"),
        ("Negative electrode porosity", 1.5, "(0, 1)"),
        ("Positive electrode active material volume fraction", 0.0, "(0, 1)"),
        ("Ambient temperature [K]", -5.0, "> 0"),
        ("Lower voltage cut-off [V]", 4.3, "below 'Upper voltage cut-off [V]'"),
        ("Upper voltage cut-off [V]", 2.5, "below 'Upper voltage cut-off [V]'"),
    ],
)
def test_non_physical_values_are_refused(tmp_path: Path, key: str, value: float, requirement: str) -> None:
    path = write(tmp_path, "bad.yaml", yaml.safe_dump({"base": "Chen2020", "overrides": {key: value}}))
    with pytest.raises(NonPhysicalParameterError) as excinfo:
        load_cell(path)
    raised(excinfo, f"'{key}'", str(value), requirement)


# --- check_parameters ----------------------------------------------------------------------------------------------


def test_check_parameters_lists_what_raw_prada2013_lacks() -> None:
    model = pybamm.lithium_ion.SPMe({"thermal": "lumped", "SEI": "solvent-diffusion limited"})
    with pytest.raises(MissingParameterError) as excinfo:
        check_parameters(load_cell("Prada2013"), model)
    missing = excinfo.value.missing
    assert {"Cell volume [m3]", "SEI solvent diffusivity [m2.s-1]", "Separator density [kg.m-3]"} <= set(missing)
    assert "Current function [A]" not in missing
    raised(excinfo, "cell 'Prada2013'", "Total heat transfer coefficient [W.m-2.K-1]")


def test_check_parameters_lists_plating_parameters_chen2020_lacks() -> None:
    with pytest.raises(MissingParameterError) as excinfo:
        check_parameters(load_cell("Chen2020"), pybamm.lithium_ion.SPMe({"lithium plating": "irreversible"}))
    assert "Exchange-current density for plating [A.m-2]" in excinfo.value.missing
    assert not [name for name in excinfo.value.missing if "SEI" in name]


def test_check_parameters_finds_parameters_read_inside_functions() -> None:
    okane = load_cell("OKane2022")
    values = okane.parameter_values.copy()
    del values["Lithium plating kinetic rate constant [m.s-1]"]
    cell = dataclasses.replace(okane, parameter_values=values)
    with pytest.raises(MissingParameterError) as excinfo:
        check_parameters(cell, pybamm.lithium_ion.SPMe(dict(LUMPED_SEI_PLATING)))
    assert excinfo.value.missing == ["Lithium plating kinetic rate constant [m.s-1]"]


@pytest.mark.parametrize("model_class", [pybamm.lithium_ion.SPM, pybamm.lithium_ion.SPMe, pybamm.lithium_ion.DFN])
@pytest.mark.parametrize("name", ["LGM50", "A123-LFP"])
def test_builtin_cells_have_every_parameter_of_their_options(name: str, model_class: type) -> None:
    cell = load_cell(name)
    options = {**LUMPED_SEI_PLATING, "heat of mixing": "true", "SEI porosity change": "true"}
    check_parameters(cell, model_class(options))


def test_completed_lfp_cell_charges_and_heats() -> None:
    """The A123-LFP completion is usable: SPMe, lumped, SEI, plating, heat of mixing; 10 min of 1C charge."""
    cell = load_cell("A123-LFP")
    options = {**LUMPED_SEI_PLATING, "heat of mixing": "true"}
    experiment = pybamm.Experiment(["Charge at 1C for 10 minutes or until 3.6 V"], period="30 seconds")
    model = pybamm.lithium_ion.SPMe(options)
    sim = pybamm.Simulation(model, parameter_values=cell.parameter_values.copy(), experiment=experiment)
    solution = sim.solve(initial_soc=0.1)
    temperature = solution["Volume-averaged cell temperature [K]"].entries
    np.testing.assert_allclose(solution["Time [s]"].entries[-1], 600.0, rtol=1e-6)
    assert 0.1 < temperature[-1] - temperature[0] < 2.0  # measured 1.09 K (h = 38.8 W/m2/K)
    assert solution["Loss of capacity to negative SEI [A.h]"].entries[-1] > 0


# --- catalogue -----------------------------------------------------------------------------------------------------


def test_catalogue_lists_builtins_first_then_pybamm_lithium_ion_sets() -> None:
    cells = catalogue()
    names = [cell.name for cell in cells]
    assert names[:2] == ["LGM50", "A123-LFP"]
    assert [c.builtin for c in cells[:2]] == [True, True] and not any(c.builtin for c in cells[2:])
    assert {"Chen2020", "OKane2022", "Prada2013", "Ai2020", "ORegan2022", "Ecker2015", "Marquis2019"} <= set(names)
    assert "Sulzer2019" not in names and "ECM_Example" not in names  # lead-acid and ECM sets are not Li-ion cells
    assert len(set(names)) == len(names)
    assert all(c.chemistry and c.capacity_ah > 0 and c.v_min_v < c.v_max_v for c in cells)


def test_format_catalogue_has_one_row_per_cell() -> None:
    cells = catalogue()
    lines = format_catalogue(cells).splitlines()
    assert lines[0].split()[:2] == ["name", "chemistry"]
    assert set(lines[1]) == {"-"}
    assert len(lines) == len(cells) + 2
    for cell, line in zip(cells, lines[2:], strict=True):
        assert line.startswith(cell.name + " ") and cell.chemistry in line and f"{cell.capacity_ah:g}" in line
    assert "LFP / graphite" in lines[3] and "2-3.6" in lines[3]
