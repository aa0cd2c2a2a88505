"""``eomctl reproduce``: regenerate the results (tables, figures, report.html, README's and docs' blocks)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from eomctl.core.resources import REPO_ROOT
from eomctl.reproduce.readme import sync_documents, sync_readme
from eomctl.reproduce.runner import reproduce


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``eomctl reproduce`` to an ``add_subparsers()`` object (handler: ``args.func``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "reproduce", help="regenerate the results: key-results and performance tables, figures, report.html"
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every registered part")
    which.add_argument("--part", action="append", default=None, metavar="NAME", help="a part to run; repeatable")
    p.add_argument("--quick", action="store_true", help="small budgets (stated on every figure)")
    p.add_argument("--out", default="results", help="output folder (default results)")
    p.add_argument("--no-resume", action="store_true", help="run parts again even when their results are current")
    p.add_argument("--executor", default="local", choices=["serial", "local", "ray"], help="how parts run in parallel")
    p.add_argument(
        "--readme",
        default=None,
        help="a page whose results blocks to re-render (default: README.md and docs/ when --out is results/)",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Handler of ``eomctl reproduce``: 0 when no part failed (skipped parts are listed), 3 otherwise."""
    command = " ".join(["eomctl reproduce", *(["--all"] if args.all else [f"--part {p}" for p in args.part]),
                        *(["--quick"] if args.quick else []), f"--out {args.out}"])  # fmt: skip
    manifest = reproduce(
        None if args.all else args.part, args.out, args.quick, not args.no_resume, args.executor, True, command
    )
    parts = manifest["parts"].values()
    for record in parts:
        state = "resumed" if record.get("resumed") else record["status"]
        print(f"{record['name']:<14} {state:<8} {record['wall_s']:8.1f} s")
    print(f"-> {Path(args.out) / 'report.html'}, key_results.md, performance.md, manifest.json")
    if args.readme is not None:
        changed = {args.readme: sync_readme(args.readme, args.out)}
    elif Path(args.out).resolve() == (REPO_ROOT / "results").resolve():
        changed = sync_documents(REPO_ROOT, args.out)  # README.md and docs/ quote the repository's own results/
    else:
        changed = {}
    for page, files in changed.items():
        print(f"{page}: {len(files)} results block(s) re-rendered {', '.join(files)}")
    return 3 if any(r["status"] == "error" for r in parts) else 0
