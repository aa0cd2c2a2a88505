"""What a reproduce part is: a function that writes its files into a folder and returns a :class:`PartResult`.

A *part* is one result of the project (the performance table, the protocol comparison, the Pareto manifold, ...):
``function(out_dir: Path, quick: bool, executor: str) -> PartResult``, described by a :class:`Part`. The parts of this
project are listed in :data:`eomctl.reproduce.parts.PARTS`; :mod:`eomctl.reproduce.runner` runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eomctl.core.errors import EomctlError

MANIFEST_VERSION = 1
PART_RECORD = "part.json"
KEY_NUMBERS_FILE = "key_numbers.json"
PERFORMANCE_PART, PERFORMANCE_TABLE = "performance", "performance"
SHORT_KEY_COLUMNS = ("result", "chemistry", "research_claim", "measured")


def flat_text(text: str) -> str:
    """One paragraph from an indented multi-line string (the parts keep their report text as module constants)."""
    return " ".join(text.split())


@dataclass(frozen=True)
class KeyNumber:
    """One measured number: ``value`` in ``unit``; ``description`` says what and how (None: not measured, and why);
    ``caveat`` is shown beside the value wherever it appears (e.g. a comparison that is not at matched time)."""

    value: float | None
    unit: str
    description: str
    caveat: str = ""


@dataclass
class PartResult:
    """What a part produced.

    Attributes
    ----------
    paragraph : str
        What was measured and how, for the report (plain text).
    files : list of Path
        Files the part wrote (figures are the ``.png`` ones; they are embedded in the report).
    tables : dict of str to list of dict
        Named tables, one dict per row; written as ``<name>.csv`` beside the part's files.
    key_numbers : dict of str to KeyNumber
        Numbers the key-results table reads by name (see :data:`eomctl.reproduce.parts.KEY_ROWS`).
    """

    paragraph: str
    files: list[Path] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    key_numbers: dict[str, KeyNumber] = field(default_factory=dict)


class PartSkipped(EomctlError):
    """Raised by a part that cannot run here (its reason goes in the report, and no number is made up)."""


PartFunction = Callable[[Path, bool, str], PartResult]  # (out_dir, quick, executor)


@dataclass(frozen=True)
class Part:
    """A registered result.

    Attributes
    ----------
    name : str
        Identifier (folder name under the output folder, ``--part NAME``).
    title : str
        Heading in the report.
    function : callable
        ``function(out_dir, quick, executor) -> PartResult``; writes only under ``out_dir`` (created for it);
        ``executor`` names how the part should run its own sweeps (see :func:`eomctl.core.executor.run_tasks`).
    quick_budget, full_budget : str
        The budgets of each mode in words, e.g. ``"1 episode per protocol, FastCharge only"``; the quick one is stamped
        on every figure of a quick run.
    version : str
        Bump to invalidate completed results when the part's method changes.
    inputs : tuple of str
        Files (relative to the repository root) whose content enters the fingerprint, e.g. a policy file.
    exclusive : bool
        Run alone in this process (timings, or a part that runs its own parallel sweep), never in a worker pool.
    checkpoints : tuple of str
        The part's own resumable checkpoints (file names in its folder): a run without ``resume`` deletes them first,
        so a part run afresh never takes points an earlier version of the code computed.
    """

    name: str
    title: str
    function: PartFunction
    quick_budget: str = ""
    full_budget: str = ""
    version: str = "1"
    inputs: tuple[str, ...] = ()
    exclusive: bool = False
    checkpoints: tuple[str, ...] = ()
