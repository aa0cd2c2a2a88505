"""One command regenerates every result: a registry of parts, each writing its files, tables and key numbers.

A *part* (:class:`~eomctl.reproduce.part.Part`) is one result of the project (the performance table, the protocol
comparison, the Pareto manifold, ...); :data:`eomctl.reproduce.parts.PARTS` lists them. :func:`reproduce` runs
the selected parts into ``<out>/<part name>/`` and then builds, **only from files the parts wrote**:

| file | what |
|---|---|
| ``manifest.json`` | every part's status (ok / skipped / error), wall time, budgets, files, fingerprint |
| ``key_results.csv`` / ``.md`` | the research's claims next to what this project measured (``"not run"`` when absent) |
| ``key_results_short.md`` | the same without the how/where columns: the table README shows |
| ``performance.csv`` / ``.md`` | eomctl against PyBaMM, ms per step and ratios (from the ``performance`` part) |
| ``report.html`` | a self-contained report: figures as data URIs, no network (:mod:`eomctl.reproduce.report`) |

Each part's own record (``<out>/<name>/part.json``) is written atomically when it finishes; with ``resume`` a part whose
record says "ok", whose fingerprint (part version, eomctl version, quick/full, content hash of its declared input files)
is unchanged and whose files all exist is not run again. A part that raises :class:`PartSkipped` (e.g. no policy file)
is recorded as skipped with its reason; any other exception is recorded as an error with its message, and the other
parts still run.

Adding a part: write ``my_part(out_dir, quick, executor) -> PartResult`` and add ``Part("my_part", "What it shows",
my_part, quick_budget="...", full_budget="...")`` to :data:`eomctl.reproduce.parts.PARTS`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import traceback
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eomctl.core.errors import ConfigError
from eomctl.core.executor import EXECUTORS, run_tasks
from eomctl.core.io import atomic_write_text, write_csv, write_json
from eomctl.core.resources import REPO_ROOT
from eomctl.core.version import __version__
from eomctl.reproduce.part import (
    KEY_NUMBERS_FILE,
    MANIFEST_VERSION,
    PART_RECORD,
    SHORT_KEY_COLUMNS,
    Part,
    PartResult,
    PartSkipped,
)
from eomctl.reproduce.parts import PARTS, key_results, performance_rows
from eomctl.reproduce.report import markdown_table, stamp_figure, write_report


def registered() -> dict[str, Part]:
    """The project's parts by name, in running order (:data:`eomctl.reproduce.parts.PARTS`)."""
    return {part.name: part for part in PARTS}


def fingerprint(part: Part, quick: bool) -> str:
    """SHA-256 of the part's name and version, eomctl's version, the mode and its input files' contents."""
    inputs = {}
    for name in part.inputs:
        path = Path(name) if Path(name).is_absolute() else REPO_ROOT / name
        inputs[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
    text = json.dumps([part.name, part.version, __version__, quick, inputs], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _relative(path: Path, out_dir: Path) -> str:
    return str(Path(path).resolve().relative_to(out_dir.resolve()))


def _write_outputs(part: Part, result: PartResult, out_dir: Path, quick: bool) -> dict[str, Any]:
    part_dir = out_dir / part.name
    tables = {}
    for table, rows in result.tables.items():
        columns = {k: [row.get(k, "") for row in rows] for k in dict.fromkeys(k for row in rows for k in row)}
        tables[table] = _relative(write_csv(part_dir / f"{table}.csv", columns), out_dir)
    numbers = {k: {**dataclasses.asdict(v), "value": None if v.value is None else float(v.value)}
               for k, v in result.key_numbers.items()}  # fmt: skip
    key_file = _relative(write_json(part_dir / KEY_NUMBERS_FILE, numbers), out_dir)
    figures = [p for p in result.files if Path(p).suffix.lower() == ".png"]
    if quick:
        for figure in figures:
            stamp_figure(figure, f"quick run: {part.quick_budget}")
    return {
        "files": [_relative(p, out_dir) for p in result.files],
        "figures": [_relative(p, out_dir) for p in figures],
        "tables": tables,
        "key_numbers": key_file,
        "paragraph": result.paragraph,
    }


def run_part(part: Part, out_dir: str | Path, quick: bool, executor: str = "serial") -> dict[str, Any]:
    """Run one part, write its outputs and its record ``<out>/<name>/part.json`` (atomically); return the record.

    Never raises for a failing part: the error (type, message, traceback) is in the record.
    """
    out = Path(out_dir)
    (out / part.name).mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"name": part.name, "title": part.title, "quick": quick, "version": part.version,
                              "fingerprint": fingerprint(part, quick), "started_utc": _now(),
                              "budget": part.quick_budget if quick else part.full_budget,
                              "quick_budget": part.quick_budget, "full_budget": part.full_budget}  # fmt: skip
    start = time.perf_counter()
    try:
        record.update(_write_outputs(part, part.function(out / part.name, quick, executor), out, quick), status="ok")
    except PartSkipped as exc:
        record.update(status="skipped", reason=str(exc))
    except Exception as exc:  # a failing part must not stop the others: record it
        record.update(status="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(-8))
    record["wall_s"] = time.perf_counter() - start
    write_json(out / part.name / PART_RECORD, record)
    return record


def run_part_task(name: str, out_dir: str, quick: bool, executor: str = "serial") -> dict[str, Any]:
    """:func:`run_part` for a registered part by name: the task function of :func:`eomctl.core.executor.run_tasks`."""
    return run_part(registered()[name], out_dir, quick, executor)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def completed_record(part: Part, out_dir: Path, quick: bool) -> dict[str, Any] | None:
    """The part's record if it finished ("ok"), its fingerprint is current and all its files exist; else None."""
    path = out_dir / part.name / PART_RECORD
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    files = [*record.get("files", []), *record.get("tables", {}).values(), record.get("key_numbers", "")]
    if record.get("status") != "ok" or record.get("fingerprint") != fingerprint(part, quick):
        return None
    return record if all(f and (out_dir / f).is_file() for f in files) else None


def _select(parts: Sequence[str | Part] | None) -> list[Part]:
    available = registered()
    if parts is None:
        return list(available.values())
    unknown = [p for p in parts if isinstance(p, str) and p not in available]
    if unknown:
        raise ConfigError(f"unknown part(s) {unknown}; choose from {sorted(available)}")
    return [available[p] if isinstance(p, str) else p for p in parts]


def reproduce(
    parts: Sequence[str | Part] | None = None,
    out_dir: str | Path = "results",
    quick: bool = True,
    resume: bool = True,
    executor: str = "local",
    progress: bool = False,
    command: str = "",
) -> dict[str, Any]:
    """Run parts (skipping completed ones with ``resume``) and write the manifest, tables and report.

    Parameters
    ----------
    parts : sequence of str or Part, optional
        Part names from the registry or Part objects (run in this process unless registered); default all registered.
    out_dir : str or Path
        Output folder; each part writes under ``<out_dir>/<name>/``.
    quick : bool
        Small budgets (stated on every figure); False runs the full budgets.
    resume : bool
        Skip parts whose record is complete and current (see :func:`completed_record`).
    executor : {"local", "ray", "serial"}
        How non-exclusive registered parts run (in parallel through :func:`eomctl.core.executor.run_tasks` unless
        "serial"); exclusive parts run here one at a time and pass it on to their own sweeps (:func:`sweep_executor`).
    progress : bool
        Progress bar of the parallel batch.
    command : str
        The command line that asked for this run, recorded in the manifest and shown with the tables.

    Returns
    -------
    dict
        The manifest (also written to ``<out_dir>/manifest.json``).
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor '{executor}'; choose one of {list(EXECUTORS)}")
    out, selected, records = Path(out_dir), _select(parts), {}
    todo = []
    for part in selected:
        done = completed_record(part, out, quick) if resume else None
        if done is not None:
            records[part.name] = {**done, "resumed": True}
        else:
            todo.append(part)
            if not resume:
                for name in part.checkpoints:
                    (out / part.name / name).unlink(missing_ok=True)
    pooled = [p for p in todo if not p.exclusive and registered().get(p.name) is p and executor != "serial"]
    for part in (p for p in todo if p not in pooled):
        records[part.name] = run_part(part, out, quick, executor)
        _print_record(records[part.name])
    tasks = [{"name": p.name, "out_dir": str(out), "quick": quick} for p in pooled]
    for record in run_tasks(run_part_task, tasks, executor, progress=progress) if tasks else []:
        records[record["name"]] = record
        _print_record(record)
    earlier = _earlier_records(out, [p for p in registered().values() if p.name not in records])
    return write_summaries(out, {**{p.name: records[p.name] for p in selected}, **earlier}, quick, command)


def _earlier_records(out: Path, parts: Sequence[Part]) -> dict[str, dict[str, Any]]:
    """Records of parts not selected this time that an earlier run left in ``out`` (so the tables stay whole)."""
    found = {}
    for part in parts:
        try:
            found[part.name] = {**json.loads((out / part.name / PART_RECORD).read_text()), "earlier_run": True}
        except (OSError, json.JSONDecodeError):
            continue
    return found


def _print_record(record: Mapping[str, Any]) -> None:
    detail = record.get("reason") or record.get("error") or ", ".join(record.get("files", []))
    print(f"[{record['status']}] {record['name']} ({record['wall_s']:.1f} s): {detail}", flush=True)


def write_summaries(
    out: Path, records: Mapping[str, Mapping[str, Any]], quick: bool, command: str = ""
) -> dict[str, Any]:
    """Write ``manifest.json``, the key-results and performance tables and ``report.html`` from the parts' files."""
    manifest = {"version": MANIFEST_VERSION, "written_utc": _now(), "quick": quick, "command": command,
                "parts": dict(records)}  # fmt: skip
    write_json(out / "manifest.json", manifest)
    keys = key_results(out, records)
    write_csv(out / "key_results.csv", {k: [row[k] for row in keys] for k in keys[0]})
    mode = "quick" if quick else "full"
    origin = (
        f"Produced by `{command or 'eomctl reproduce'}` ({mode} run, {manifest['written_utc']}); every measured "
        "value is read from the key_numbers.json of the part named.\n\n"
    )
    atomic_write_text(out / "key_results.md", origin + markdown_table(keys) + "\n")
    # The same table without the how/where columns, as README shows it (a test checks README matches this file).
    short = [{k: row[k] for k in SHORT_KEY_COLUMNS} for row in keys]
    atomic_write_text(out / "key_results_short.md", origin + markdown_table(short) + "\n")
    perf, perf_note = performance_rows(out, records)
    if perf:
        write_csv(out / "performance.csv", {k: [row[k] for row in perf] for k in perf[0]})
    atomic_write_text(out / "performance.md", (markdown_table(perf) if perf else perf_note) + "\n")
    write_report(out / "report.html", manifest, keys, perf, perf_note)
    return manifest


# ------------------------------------------------------------------------------------------------ command line
