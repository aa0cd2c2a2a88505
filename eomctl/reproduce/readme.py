"""Measured figures of README and docs/, rendered from the files ``eomctl reproduce`` wrote (no number by hand).

A block in README.md or a page of docs/ names a results file and, optionally, the columns and rows to show::

    <!-- results: protocols/protocols.csv columns=policy,charge_time_s,entropy_j_per_k where=chemistry=NMC -->
    (rendered table, replaced on every sync)
    <!-- /results -->

``FILE`` is relative to the results folder: a ``.csv`` table, a ``.md`` file (copied as it is), ``manifest.json``
(one row per part: status, wall time, budget) or a part's ``key_numbers.json`` (one row per number). Options:
``columns=a,b,c`` (default all), ``where=col=value`` (repeatable: rows whose column equals the value),
``rename=col:label`` (repeatable, header text). Every rendered table starts with a line saying which file it came from,
whether that part ran with quick or full budgets, the budget and the part's wall time.

:func:`sync_readme` rewrites every block (``eomctl reproduce`` calls it when it writes the repository's own
``results/``); :func:`stale_blocks` lists the blocks that differ from their files (a test asserts there are none).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eomctl.core.errors import ConfigError
from eomctl.core.io import atomic_write_text
from eomctl.reproduce.report import markdown_table, read_table

BLOCK = re.compile(r"<!-- results: (?P<spec>[^>]*?) -->\n(?P<body>.*?)<!-- /results -->", re.DOTALL)


@dataclass(frozen=True)
class BlockSpec:
    """What one README block shows (parsed from its opening comment)."""

    file: str
    columns: tuple[str, ...] = ()
    where: tuple[tuple[str, str], ...] = ()
    rename: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> BlockSpec:
        """``FILE [columns=a,b] [where=col=value]... [rename=col:label]...`` (values may be shell-quoted)."""
        words = shlex.split(text)
        if not words:
            raise ConfigError("a results block names no file")
        columns: tuple[str, ...] = ()
        where, rename = [], []
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if not sep:
                raise ConfigError(f"results block option '{word}' is not key=value")
            if key == "columns":
                columns = tuple(c for c in value.split(",") if c)
            elif key == "where":
                column, sep, wanted = value.partition("=")
                if not sep:
                    raise ConfigError(f"where= needs column=value; got '{value}'")
                where.append((column, wanted))
            elif key == "rename":
                column, sep, label = value.partition(":")
                if not sep:
                    raise ConfigError(f"rename= needs column:label; got '{value}'")
                rename.append((column, label))
            else:
                raise ConfigError(f"unknown results block option '{key}' (columns, where, rename)")
        return cls(words[0], columns, tuple(where), tuple(rename))


def _rows(path: Path) -> list[dict[str, Any]]:
    if path.name == "manifest.json":
        parts = json.loads(path.read_text())["parts"]
        return [
            {"part": name, "status": r.get("status", ""), "mode": "quick" if r.get("quick") else "full",
             "wall_s": round(float(r.get("wall_s", 0.0))), "budget": r.get("budget", "")}
            for name, r in parts.items()
        ]  # fmt: skip
    if path.suffix == ".json":
        numbers = json.loads(path.read_text())
        return [{"number": k, "value": v.get("value"), "unit": v.get("unit", ""), "how": v.get("description", "")}
                for k, v in numbers.items()]  # fmt: skip
    if path.suffix == ".csv":
        return list(read_table(path))
    raise ConfigError(f"results block file '{path.name}' is not .csv, .md or .json")


def _part_record(results_dir: Path, file: str) -> tuple[dict[str, Any] | None, str]:
    """The record (``part.json``) of the part whose folder holds ``file``, and its mode ("quick" / "full")."""
    path = results_dir / Path(file).parts[0] / "part.json"
    if len(Path(file).parts) < 2 or not path.is_file():
        return None, ""
    record = json.loads(path.read_text())
    return record, "quick" if record.get("quick") else "full"


def _origin(results_dir: Path, file: str) -> str:
    """Where a block's numbers come from: the file, the part's mode and budget, and its wall time."""
    record, mode = _part_record(results_dir, file)
    line = f"*From `results/{file}`"
    if record is not None:
        line += f" ({mode} run, {record.get('started_utc', '')[:10]}: {record.get('budget', '')}; "
        line += f"part wall time {float(record.get('wall_s', 0.0)):.0f} s)"
    elif Path(file).name == "manifest.json" and (results_dir / file).is_file():
        manifest = json.loads((results_dir / file).read_text())
        line += f" (written {manifest.get('written_utc', '')[:16]} by `{manifest.get('command', '')}`)"
    return line + ".*"


def render(spec: BlockSpec, results_dir: str | Path) -> str:
    """The text of one block: the origin line and the table (or the Markdown file as it is)."""
    results = Path(results_dir)
    path = results / spec.file
    if not path.is_file():
        return _missing(results, spec.file)
    if path.suffix == ".md":
        return path.read_text(encoding="utf-8").strip() + "\n"
    rows = _rows(path)
    for column, wanted in spec.where:
        rows = [r for r in rows if str(r.get(column, "")) == wanted]
    if not rows:
        raise ConfigError(f"README block on results/{spec.file}: no row matches {list(spec.where)}")
    columns = spec.columns or tuple(rows[0])
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise ConfigError(f"README block on results/{spec.file}: no column(s) {missing}; it has {list(rows[0])}")
    labels = dict(spec.rename)
    shown = [{labels.get(c, c): r[c] for c in columns} for r in rows]
    return _origin(results, spec.file) + "\n\n" + markdown_table(shown) + "\n"


def _missing(results: Path, file: str) -> str:
    """The text of a block whose file the last run did not write (a part that did not run, or not in this mode)."""
    record, mode = _part_record(results, file)
    if record is None:
        return f"*Not measured: `results/{file}` is missing (its part has not run; `eomctl reproduce --all`).*\n"
    why = record.get("reason") or record.get("error") or f"not in the {mode} run: {record.get('budget', '')}"
    return f"*Not measured: `results/{file}` is missing ({why}).*\n"


def sync_text(text: str, results_dir: str | Path) -> str:
    """``text`` with every results block re-rendered from ``results_dir``."""

    def replace(match: re.Match[str]) -> str:
        spec = BlockSpec.parse(match["spec"])
        return f"<!-- results: {match['spec']} -->\n{render(spec, results_dir)}<!-- /results -->"

    return BLOCK.sub(replace, text)


def sync_readme(readme: str | Path, results_dir: str | Path) -> list[str]:
    """Rewrite every results block of ``readme`` (atomically); return the files of the blocks that changed."""
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    changed = stale_blocks(text, results_dir)
    if changed:
        atomic_write_text(path, sync_text(text, results_dir))
    return changed


def stale_blocks(text: str, results_dir: str | Path) -> list[str]:
    """The files of the blocks in ``text`` whose content differs from what their results file renders."""
    stale = []
    for match in BLOCK.finditer(text):
        spec = BlockSpec.parse(match["spec"])
        if match["body"] != render(spec, results_dir):
            stale.append(spec.file)
    return stale


def documents(root: str | Path) -> list[Path]:
    """The pages that carry results blocks: ``README.md`` and every Markdown page under ``docs/`` of ``root``."""
    base = Path(root)
    readme = [base / "README.md"] if (base / "README.md").is_file() else []
    return readme + sorted((base / "docs").rglob("*.md"))


def sync_documents(root: str | Path, results_dir: str | Path) -> dict[str, list[str]]:
    """Re-render the blocks of every page of :func:`documents`; return, per page that changed, its changed files."""
    changed = {}
    for page in documents(root):
        files = sync_readme(page, results_dir)
        if files:
            changed[str(page.relative_to(root))] = files
    return changed


def block_files(text: str) -> Sequence[str]:
    """The results files README's blocks name, in order."""
    return [BlockSpec.parse(m["spec"]).file for m in BLOCK.finditer(text)]


def missing_files(text: str, results_dir: str | Path) -> list[str]:
    """The results files README's blocks name that ``results_dir`` lacks (their blocks say "not measured")."""
    return [f for f in block_files(text) if not (Path(results_dir) / f).is_file()]
