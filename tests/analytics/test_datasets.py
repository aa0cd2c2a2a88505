"""Real measured data: fetch from the package index into a cache, loaders, the ORNL HPPC resistance, bad files.

The first test that needs the data runs ``eomctl data fetch`` once per session (pip reaching PyPI is part of this
project's test environment). Without network it FAILS with pip's message: the data tests are not silently skipped.
A cache that already holds the pinned archives' files (``$EOMCTL_DATA`` with a matching provenance) is reused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eomctl.analytics import datasets as ds
from eomctl.analytics.datasets import SOURCES, DataError


def _eomctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eomctl.cli.main", *args], capture_output=True, text=True, timeout=900, check=False
    )


def _complete(cache: Path) -> bool:
    prov = ds.read_provenance(cache)
    return all(prov.get(n, {}).get("sha256") == s.sha256 for n, s in SOURCES.items()) and all(
        (cache / n / m).is_file() for n, s in SOURCES.items() for m in s.members
    )


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache holding the three pinned data sets (fetched once per session)."""
    env = os.environ.get(ds.CACHE_ENV)
    if env and _complete(Path(env)):
        return Path(env)
    cache = tmp_path_factory.getbasetemp() / "eomctl-data"
    if not _complete(cache):
        proc = _eomctl("data", "fetch", "--cache", str(cache))
        if proc.returncode != 0:
            pytest.fail(f"`eomctl data fetch` failed (network to PyPI needed for the data tests):\n{proc.stderr}")
    return cache


def test_fetch_verifies_pins_and_records_provenance(data_cache: Path) -> None:
    prov = json.loads((data_cache / "provenance.json").read_text())
    assert set(prov) == set(SOURCES)
    for name, source in SOURCES.items():
        assert prov[name]["sha256"] == source.sha256
        assert prov[name]["version"] == source.version and prov[name]["licence"] and prov[name]["attribution"]
        for member in source.members:
            assert (data_cache / name / member).stat().st_size > 0
    assert "MIT License" in (data_cache / "ornl_leaf" / "LICENSE").read_text()
    assert "Apache License" in (data_cache / "battdat" / "LICENSE").read_text()


def test_ornl_hppc_loads_every_temperature_including_the_headerless_file(data_cache: Path) -> None:
    for temperature_c in ds.ORNL_HPPC_TEMPERATURES_C:
        t = ds.load_ornl_hppc(temperature_c, data_cache)
        assert set(t) == {"time_s", "step", "current_a", "voltage_v", "capacity_ah"}
        assert t["time_s"].size > 13000 and np.all(np.diff(t["time_s"]) > 0)
        assert t["voltage_v"].min() > 2.9 and t["voltage_v"].max() < 4.25
        np.testing.assert_allclose(t["current_a"].min(), -30.0, atol=0.05)  # the HPPC discharge pulse


def test_ornl_discharges_deliver_less_at_higher_rate(data_cache: Path) -> None:
    delivered = []
    for c_rate in ds.ORNL_DISCHARGE_RATES_C:
        t = ds.load_ornl_discharge(c_rate, data_cache)
        np.testing.assert_allclose(-t["current_a"].min(), c_rate * 30.6, rtol=0.01)
        delivered.append(-t["capacity_ah"].min())  # the cycler's counter of the discharge
        assert t["voltage_v"].min() >= 2.99
    assert 27.0 < delivered[2] < delivered[1] < delivered[0] < 33.1  # nominal 33.1 A.h


def test_ornl_hppc_resistance_vs_soc_and_temperature(data_cache: Path) -> None:
    r = {t: ds.ornl_hppc_resistance(t, data_cache) for t in ds.ORNL_HPPC_TEMPERATURES_C}
    for table in r.values():
        dis = table["direction"] == -1
        assert dis.sum() >= 10 and (table["direction"] == 1).sum() >= 9
        soc = table["soc"][dis]
        assert np.all(np.diff(soc) < 0) and soc.max() > 0.89 and soc.min() < 0.12  # 10 % steps down
        assert np.all((table["resistance_ohm"] > 1.5e-3) & (table["resistance_ohm"] < 5e-3))
        assert np.all(table["resistance_ohm"] > table["r0_ohm"])  # 10 s includes diffusion on top of R0
    # Colder is more resistive at every matched discharge pulse (SOC 0.9 ... 0.1).
    cold, warm = (r[t]["resistance_ohm"][r[t]["direction"] == -1][-9:] for t in (10, 25))
    assert np.all(cold > 1.3 * warm)


def test_ml_eis_retention_set(data_cache: Path) -> None:
    d = ds.load_ml_eis(data_cache)
    assert d.n_cells == 44 and d.retention_pct.shape == (44, 300) and d.dq_var_ah2.shape == (44, 9)
    np.testing.assert_allclose(d.retention_pct[:, 0], 100.0)
    np.testing.assert_array_equal(d.cycle, np.arange(300))
    assert np.all(d.dq_var_ah2 > 0) and np.all(d.z_hf_real_ohm > 0) and np.all(d.z_apex_real_ohm > d.z_hf_real_ohm)
    assert 90.0 < d.retention_pct[:, -1].min() < d.retention_pct[:, -1].max() < 96.0


def test_xcel_nmc532_summary_and_a123_fast_charge(data_cache: Path) -> None:
    x = ds.load_xcel_nmc532(data_cache)
    assert x["cycle"].size == 267 and np.array_equal(x["cycle"], np.arange(1, 268))
    checks = x["capacity_check"] == 1
    assert 3 <= checks.sum() < 30
    q = x["q_discharge_ah"][checks]
    assert np.all((q > 0.015) & (q < 0.04))  # a 32-37 mA.h single-layer pouch
    a = ds.load_a123_fastcharge(data_cache)
    assert set(np.unique(a["cycle"])) == {1.0, 2.0}
    assert a["voltage_v"].min() >= 1.99 and a["voltage_v"].max() <= 3.61  # LFP window
    assert a["current_a"].max() > 2 * -a["current_a"].min() * 0.7  # charge faster than discharge


# ------------------------------------------------------------------------------------------- errors
def test_missing_cache_tells_the_user_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="eomctl data fetch"):
        ds.load_ml_eis(tmp_path)


def test_checksum_mismatch_extracts_nothing(tmp_path: Path) -> None:
    archives = tmp_path / "archives"
    archives.mkdir()
    (archives / SOURCES["ml_eis"].archive).write_bytes(b"not the pinned wheel")
    with pytest.raises(DataError, match="SHA-256"):
        ds.fetch(tmp_path / "cache", ["ml_eis"], archives_dir=archives)
    assert not (tmp_path / "cache" / "ml_eis").exists()


def test_unknown_data_set_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown data set"):
        ds.fetch(tmp_path, ["nope"])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("No,1.0,1,1,1,1,1,1.0,0.00,3.1,0,0,0,REST, ,\nNo,2.0,1,1,1,1,1,2.0,abc,3.1,0,0,0,REST, ,\n", "line 2.*'abc'"),
        ("Exclude,Time(s),Step\nNo,1.0,1\n", "missing column"),
        ("No,2.0,1,1,1,1,1,1.0,0.00,3.1,0,0,0,REST, ,\nNo,1.0,1,1,1,1,1,2.0,0.0,3.1,0,0,0,REST, ,\n", "line 2.*time"),
        ("", "empty"),
        ("1,2\n", "line 1"),
    ],
)
def test_malformed_bitrode_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        ds.read_bitrode_csv(path)


def test_malformed_ml_eis_file(tmp_path: Path, data_cache: Path) -> None:
    import shutil

    cache = tmp_path / "cache"
    shutil.copytree(data_cache / "ml_eis", cache / "ml_eis")
    bad = cache / "ml_eis" / "ml_eis" / "data" / "Z1max.csv"
    bad.write_text("0.1\n0.2\n")
    with pytest.raises(DataError, match=r"Z1max.csv: 2 values, expected one per cell \(44\)"):
        ds.load_ml_eis(cache)


# ------------------------------------------------------------------------------------------- command line
def test_cli_data_list_and_hppc(tmp_path: Path, data_cache: Path) -> None:
    proc = _eomctl("data", "list", "--cache", str(tmp_path / "empty"))
    assert proc.returncode == 0 and "not fetched" in proc.stdout
    proc = _eomctl("data", "hppc", "--cache", str(tmp_path / "empty"))
    assert proc.returncode == 2 and "eomctl data fetch" in proc.stderr and "Traceback" not in proc.stderr
    out = tmp_path / "hppc.csv"
    proc = _eomctl("data", "hppc", "--cache", str(data_cache), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    from eomctl.core.io import read_csv

    table = read_csv(out)
    assert set(np.unique(table["temperature_c"])) == {10.0, 25.0, 40.0}
    assert "25 C discharge" in proc.stdout
