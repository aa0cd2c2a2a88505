"""Lifetime engine vs PyBaMM's own Experiment cycling (``--cycles N``), and fast (extrapolated) vs cycle-by-cycle to end
of life (``--eol``); the measurements are :mod:`eomctl.bench.lifetime` (its docstring describes both). Prints JSON.
"""

from __future__ import annotations

import argparse
import json

from eomctl.bench.lifetime import ACCELERATION, compare_fast, compare_pybamm


def main() -> None:
    """Parse arguments, run the chosen part(s), print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=0, help="part 1 with this many cycles")
    parser.add_argument("--lam", action="store_true", help="part 1 with loss of active material too")
    parser.add_argument("--eol", action="store_true", help="part 2")
    parser.add_argument("--eol-max-cycles", type=int, default=1500)
    parser.add_argument("--eol-ambient-c", type=float, default=25.0)
    parser.add_argument("--eol-rpt-every", type=int, default=100)
    parser.add_argument("--eol-acceleration", type=float, default=ACCELERATION, help="SEI solvent diffusivity factor")
    args = parser.parse_args()
    if args.cycles:
        print(json.dumps(compare_pybamm(args.cycles, args.lam), indent=1), flush=True)
    if args.eol:
        out = compare_fast(args.eol_max_cycles, args.eol_ambient_c, args.eol_rpt_every, args.eol_acceleration)
        print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
