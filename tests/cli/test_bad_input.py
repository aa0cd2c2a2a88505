"""Every kind of bad input a user can give the command line: a clear message, its exit code, no traceback.

:data:`CASES` is the single list: the parametrised test below runs each one through ``eomctl``'s own entry point
(in-process: each must fail before any long computation), and ``docs/errors.md`` shows the same list as a table
(:func:`test_the_docs_table_is_this_list` keeps it in step; ``python tests/cli/test_bad_input.py`` rewrites it).
Kinds checked elsewhere (the environment's API, Ctrl-C, solver failures) are listed in :data:`ELSEWHERE` with the
test that checks them.
"""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from eomctl.cli.main import main
from eomctl.core.errors import EXIT_BAD_INPUT, EXIT_FILE, EXIT_INTERRUPTED, EXIT_SOLVER_FAILED
from eomctl.training.hyperparams import TrainConfig, resolve
from eomctl.training.runs import write_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "errors.md"
CELLS = ROOT / "tests" / "cell" / "data" / "cells"
SIM = ["simulate", "--model", "SPM", "--no-compile", "--out", "{tmp}/x.csv"]
STEP = ["--protocol", "Charge at 1C for 1 minute"]
TRAIN = ["train", "--no-compile", "--timesteps", "64", "--n-envs", "1", "--final-eval-episodes", "0",
         "--no-progress-bar", "--out", "{tmp}/run"]  # fmt: skip
LIFE = ["lifetime", "--model", "SPM", "--no-compile", "--max-cycles", "2", "--out", "{tmp}/life.csv"]


@dataclass(frozen=True)
class Case:
    """One kind of bad input: what a user types, the exit code and the words the message must contain."""

    kind: str
    argv: tuple[str, ...]
    code: int
    message: str
    files: Callable[[Path], None] | None = None  # writes the (bad) files the command reads

    @property
    def id(self) -> str:
        return self.kind.lower().replace(" ", "-").replace("/", "-").replace("'", "")[:60]


def _write(name: str, text: str) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        (tmp / name).write_text(text)

    return write


def _cell_file(overrides: str, extra: str = "") -> Callable[[Path], None]:
    return _write("cell.yaml", f"base: Chen2020\n{extra}overrides:\n{overrides}")


def _run_folder(checkpoint: bytes | None) -> Callable[[Path], None]:
    """A run folder (config.yaml) with, optionally, a checkpoint whose model zip holds ``checkpoint``."""

    def write(tmp: Path) -> None:
        run = tmp / "old"
        run.mkdir()
        config = TrainConfig(n_timesteps=128, n_envs=1, compile=False, final_eval_episodes=0)
        write_config(run, resolve(config))
        if checkpoint is not None:
            (run / "checkpoints").mkdir()
            (run / "checkpoints" / "rl_model_64_steps.zip").write_bytes(checkpoint)
            (run / "checkpoints" / "rl_model_vecnormalize_64_steps.pkl").write_bytes(b"\x80\x04")

    return write


def _truncated_zip(tmp: Path) -> None:
    good = ROOT / "agents" / "ppo_FastCharge-v0.zip"
    (tmp / "policy.zip").write_bytes(good.read_bytes()[:2000])


def _model_without_statistics(tmp: Path) -> None:
    with zipfile.ZipFile(tmp / "policy.zip", "w") as archive:
        archive.writestr("data", json.dumps({}))


def _lifetime_checkpoint(text: str) -> Callable[[Path], None]:
    return _write("ck.json", text)


def _other_checkpoint(tmp: Path) -> None:
    assert main([*(a.format(tmp=tmp) for a in LIFE), "--checkpoint", str(tmp / "ck.json")]) == 0


# fmt: off
CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ cells
    Case("Unknown cell name", (*SIM, *STEP, "--cell", "Chen202"), 2, "did you mean 'Chen2020'"),
    Case("Cell name longer than a file name", (*SIM, *STEP, "--cell", "x" * 300), 2, "unknown cell 'xxx"),
    Case("Missing cell file", (*SIM, *STEP, "--cell", "{tmp}/missing.yaml"), 4, "cell file not found"),
    Case(
        "Cell file: invalid YAML",
        (*SIM, *STEP, "--cell", "{tmp}/cell.yaml"),
        4,
        "cell.yaml",
        _write("cell.yaml", "base: [Chen2020\n"),
    ),
    Case(
        "Cell file: not a mapping",
        (*SIM, *STEP, "--cell", "{tmp}/cell.yaml"),
        4,
        "expected a mapping",
        _write("cell.yaml", "- 1\n- 2\n"),
    ),
    Case(
        "Cell file: unknown top-level key",
        (*SIM, *STEP, "--cell", "{tmp}/cell.yaml"),
        4,
        "unknown key 'overide'",
        _write("cell.yaml", "base: Chen2020\noveride: {}\n"),
    ),
    Case(
        "Cell file: unknown base",
        (*SIM, *STEP, "--cell", "{tmp}/cell.yaml"),
        4,
        "key 'base'",
        _write("cell.yaml", "base: Chen2019\n"),
    ),
    Case(
        "Cell file: misspelled parameter name",
        (*SIM, *STEP, "--cell", "{tmp}/cell.yaml"),
        4,
        "did you mean 'Nominal cell capacity [A.h]'",
        _cell_file("  Nominal cell capacity [Ah]: 10\n"),
    ),
    Case(
        "Cell file: override not a number",
        (*SIM, *STEP, "--cell", "{tmp}/cell.yaml"),
        4,
        "must be a number",
        _cell_file("  Nominal cell capacity [A.h]: ten\n"),
    ),
    Case(
        "Cell file: unknown SEI option",
        (*SIM, *STEP, "--cell", "{tmp}/cell.yaml"),
        4,
        "key 'sei_option'",
        _cell_file("  Nominal cell capacity [A.h]: 5\n", "sei_option: fast\n"),
    ),
    Case(
        "Cell file: non-physical value",
        (*SIM, *STEP, "--cell", "{tmp}/cell.yaml"),
        2,
        "Separator thickness [m]",
        _cell_file("  Separator thickness [m]: -1.0e-5\n"),
    ),
    Case(
        "Python cell file returns a non-dict",
        (*SIM, *STEP, "--cell", "{tmp}/cell.py"),
        4,
        "get_parameter_values() returned int",
        _write("cell.py", "def get_parameter_values():\n    return 42\n"),
    ),
    Case(
        "Python cell file raises",
        (*SIM, *STEP, "--cell", "{tmp}/cell.py"),
        4,
        "ZeroDivisionError",
        _write("cell.py", "def get_parameter_values():\n    return 1 / 0\n"),
    ),
    Case(
        "Python cell file without get_parameter_values",
        (*SIM, *STEP, "--cell", "{tmp}/cell.py"),
        4,
        "defines no function get_parameter_values()",
        _write("cell.py", "X = 1\n"),
    ),
    Case(
        "BPX file missing a field",
        (*SIM, *STEP, "--cell", str(CELLS / "bpx_missing_field.json")),
        4,
        "Separator.Thickness [m]: Field required",
    ),
    # ------------------------------------------------------------------ simulate
    Case("No protocol step", tuple(SIM), 2, "give at least one --protocol step"),
    Case(
        "Protocol step that does not parse",
        (*SIM, "--protocol", "Charge at banana"),
        2,
        "cannot parse protocol step 'Charge at banana'",
    ),
    Case(
        "Cut-off voltage outside the cell's window",
        (*SIM, "--protocol", "Charge at 1C until 9 V"),
        2,
        "9 V is outside the cell's window [2.5, 4.2] V",
    ),
    Case("Negative duration", (*SIM, "--protocol", "Rest for -5 minutes"), 2, "the duration must be positive"),
    Case(
        "Negative charge rate",
        (*SIM, "--protocol", "Charge at -1C until 4.2 V"),
        2,
        "give the rate or current as a positive number",
    ),
    Case(
        "Negative discharge current",
        (*SIM, "--protocol", "Discharge at -2 A for 1 minute"),
        2,
        "give the rate or current as a positive number",
    ),
    Case(
        "Two 'until' conditions", (*SIM, "--protocol", "Charge at 1C until 4.2 V until 3 V"), 2, "one 'until' per step"
    ),
    Case("Initial SOC outside [0, 1]", (*SIM, *STEP, "--soc0", "1.4"), 2, "initial SOC"),
    Case("Negative output spacing", (*SIM, *STEP, "--dt", "-5"), 2, "dt"),
    Case(
        "Ambient temperature implausible",
        (*SIM, *STEP, "--ambient-c", "-300"),
        2,
        "is not a plausible cell temperature",
    ),
    # ------------------------------------------------------------------ output paths
    Case(
        "Output file inside a file",
        ("simulate", *STEP, "--out", "{tmp}/notes.txt/x.csv"),
        4,
        "'{tmp}/notes.txt' is a file",
        _write("notes.txt", ""),
    ),
    Case("Output file is a folder", ("simulate", *STEP, "--out", "{tmp}"), 4, "it is a folder"),
    Case("Training folder is a file", (*TRAIN[:-1], "{tmp}/notes.txt"), 4, "it is a file", _write("notes.txt", "")),
    # ------------------------------------------------------------------ train
    Case("Unknown algorithm hyperparameter", (*TRAIN, "--hyperparams", "n_stepz=32"), 2, "n_stepz"),
    Case("Hyperparameter not a number", (*TRAIN, "--hyperparams", "learning_rate=abc"), 2, "learning_rate"),
    Case("Zero parallel envs", (*TRAIN[:4], "--n-envs", "0", *TRAIN[6:]), 2, "n_envs"),
    Case("Zero evaluation interval", (*TRAIN, "--eval-freq", "0"), 2, "eval_freq"),
    Case("Zero evaluation episodes", (*TRAIN, "--eval-episodes", "0"), 2, "eval_episodes"),
    Case("Zero checkpoint interval", (*TRAIN, "--checkpoint-freq", "0"), 2, "checkpoint_freq"),
    Case("Zero training steps", (*TRAIN[:2], "--timesteps", "0", *TRAIN[4:]), 2, "n_timesteps"),
    Case("Unknown env id", (*TRAIN, "--env", "eomctl/FastCharg-v0"), 2, "FastCharge"),
    Case("Unknown scenario override", (*TRAIN, "--env-overrides", "simulator.modle=SPM"), 2, "modle"),
    Case(
        "Run folder already holds a run", (*TRAIN[:-1], "{tmp}/old"), 2, "continue it with --resume", _run_folder(None)
    ),
    Case("Resume a folder that is not a run", ("train", "--resume", "{tmp}"), 2, "not a run folder"),
    Case(
        "Resume from a truncated checkpoint",
        ("train", "--resume", "{tmp}/old"),
        4,
        "cannot be read",
        _run_folder(b"PK\x03\x04 cut short"),
    ),
    # ------------------------------------------------------------------ policies
    Case("Unknown policy protocol", (*LIFE, "--policy", "cccx:rate=2C"), 2, "unknown protocol 'cccx'"),
    Case("Unknown policy key", (*LIFE, "--policy", "cccv:rat=2C"), 2, "unknown key 'rat'"),
    Case("Policy value not a number", (*LIFE, "--policy", "cccv:rate=fast"), 2, "'rate'"),
    Case(
        "Lifetime baseline with no rate to match",
        ("compare-life", "--policy", "cccv:rate=2C", "--baseline", "ccco:rate=2C", "--model", "SPM", "--no-compile"),
        2,
        "cannot match 'ccco:rate=2C'",
    ),
    Case(
        "Negative matching cycle",
        ("compare-life", "--policy", "cccv:rate=2C", "--match-cycle", "-1", "--model", "SPM", "--no-compile"),
        2,
        "--match-cycle must be >= 0",
    ),
    Case("Missing policy model", (*LIFE, "--policy", "{tmp}/policy.zip"), 2, "not found"),
    Case("Truncated policy model", (*LIFE, "--policy", "{tmp}/policy.zip"), 4, "not a zip archive", _truncated_zip),
    Case(
        "Unknown policy in evaluate",
        ("evaluate", "--policy", "cccv:rate=2C", "--policy", "cc:rate=2C", "--no-compile", "--out", "{tmp}/e.json"),
        2,
        "unknown protocol 'cc'",
    ),
    Case(
        "Unknown env id in rollout",
        ("rollout", "--agent", "cccv:rate=1C", "--env", "eomctl/Nope-v0", "--out", "{tmp}/r.csv"),
        2,
        "unknown env 'eomctl/Nope-v0'",
    ),
    Case(
        "Too few held-out draws in compare",
        ("compare", "--policy", "cccv:rate=1C", "--held-out", "1", "--out", "{tmp}/c.json"),
        2,
        "--held-out >= 2",
    ),
    Case(
        "More bound draws than held-out draws in compare",
        ("compare", "--policy", "cccv:rate=1C", "--held-out", "2", "--bound-draws", "3", "--out", "{tmp}/c.json"),
        2,
        "--bound-draws must be within 0..--held-out (2); got 3",
    ),
    Case(
        "Deadline oracle on a scenario without deadlines",
        ("compare", "--policy", "cccv:rate=1C", "--oracle-per-draw", "deadline", "--out", "{tmp}/c.json"),
        2,
        "--oracle-per-draw deadline needs a scenario with deadlines; eomctl/ColdFastCharge-v0 has none",
    ),
    Case(
        "Unknown env id in compare",
        ("compare", "--policy", "cccv:rate=1C", "--env", "eomctl/Nope-v0", "--out", "{tmp}/c.json"),
        2,
        "unknown scenario 'eomctl/Nope-v0'",
    ),
    # ------------------------------------------------------------------ lifetime
    Case(
        "Override that is not a number",
        (*LIFE, "--override", "SEI kinetic rate constant [m.s-1]=abc"),
        2,
        "is not a number",
    ),
    Case("Override without '='", (*LIFE, "--override", "SEI"), 2, "NAME=VALUE"),
    Case(
        "Override of an unknown parameter", (*LIFE, "--override", "Nominal capacity [A.h]=5"), 2, "has no parameter(s)"
    ),
    Case("End-of-life SOH outside (0, 1)", (*LIFE, "--eol", "1.5"), 2, "eol_soh"),
    Case("Negative aging acceleration", (*LIFE, "--aging-acceleration", "-1"), 2, "aging_acceleration"),
    Case("Resume without a checkpoint file", (*LIFE, "--resume"), 2, "--resume needs --checkpoint"),
    Case(
        "Truncated lifetime checkpoint",
        (*LIFE, "--resume", "--checkpoint", "{tmp}/ck.json"),
        4,
        "is unreadable (truncated?)",
        _lifetime_checkpoint('{"version": 3, "config": {"cell"'),
    ),
    Case(
        "File that is not a lifetime checkpoint",
        (*LIFE, "--resume", "--checkpoint", "{tmp}/ck.json"),
        4,
        "is not a lifetime checkpoint",
        _lifetime_checkpoint("[1, 2, 3]"),
    ),
    Case(
        "Checkpoint of another experiment",
        (*LIFE, "--resume", "--checkpoint", "{tmp}/ck.json", "--rest-s", "60"),
        2,
        "options that differ: rest_s",
        _other_checkpoint,
    ),
    # ------------------------------------------------------------------ analyze
    Case("Record file missing", ("analyze", "{tmp}/none.csv", "--out", "{tmp}/m.csv"), 4, "none.csv"),
    Case(
        "Empty record file",
        ("analyze", "{tmp}/r.csv", "--out", "{tmp}/m.csv"),
        4,
        "the file is empty",
        _write("r.csv", ""),
    ),
    Case(
        "Record cell that is not a number",
        ("analyze", "{tmp}/r.csv", "--out", "{tmp}/m.csv"),
        4,
        "column 'voltage_v': 'abc' is not a number",
        _write("r.csv", "time_s,voltage_v\n0,3.5\n1,abc\n"),
    ),
    Case(
        "Ragged record row",
        ("analyze", "{tmp}/r.csv", "--out", "{tmp}/m.csv"),
        4,
        "line 3: 1 fields",
        _write("r.csv", "time_s,voltage_v\n0,3.5\n1\n"),
    ),
)

# fmt: on

ELSEWHERE: tuple[tuple[str, str, str, str], ...] = (  # kind, exit code or exception, message, test
    ("Env action NaN, None, a string or wrong-shaped", "ActionError", "one finite number",
     "tests/charging/test_env.py::test_an_action_that_is_not_one_finite_number_is_refused"),
    ("Ctrl-C in simulate", "130", "simulate interrupted: run.csv not written",
     "tests/cli/test_interrupts.py::test_simulate_stops_with_130_between_steps_and_leaves_nothing"),
    ("Ctrl-C in train", "130", "training interrupted at N steps (checkpoint at M steps kept)",
     "tests/cli/test_interrupts.py::test_train_stops_with_130_and_resumes_to_the_uninterrupted_weights"),
    ("Ctrl-C in lifetime", "130", "lifetime interrupted; checkpoint at cycle N written",
     "tests/cli/test_interrupts.py::test_lifetime_writes_its_checkpoint_on_130_and_resumes_to_the_same_rows"),
    ("Policy model without its VecNormalize statistics", "warning", "no VecNormalize statistics beside",
     "tests/cli/test_bad_input.py::test_a_model_without_its_statistics_warns"),
    ("Scenario files (fuzzed)", "ConfigError", "names the key or file",
     "tests/charging/test_scenario_fuzz.py"),
    ("Policy specs (fuzzed)", "ConfigError", "names the protocol or key", "tests/policies/test_spec_fuzz.py"),
)  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    if case.files is not None:
        case.files(tmp_path)
        capsys.readouterr()
    code = main([arg.format(tmp=tmp_path) for arg in case.argv])
    stderr = capsys.readouterr().err
    assert code == case.code, stderr
    assert case.message.format(tmp=tmp_path) in stderr, stderr
    assert stderr.startswith("eomctl: error: ") and "Traceback" not in stderr


def test_a_model_without_its_statistics_warns(tmp_path: Path) -> None:
    from eomctl.core.errors import EomctlWarning
    from eomctl.policies.trained import load_agent

    model = tmp_path / "policy.zip"
    model.write_bytes((ROOT / "agents" / "ppo_FastCharge-v0.zip").read_bytes())
    with pytest.warns(EomctlWarning, match="no VecNormalize statistics beside"):
        load_agent(model)


def test_the_list_is_long_and_the_exit_codes_are_the_documented_ones() -> None:
    assert len(CASES) + len(ELSEWHERE) >= 45 and len({case.id for case in CASES}) == len(CASES)
    assert {case.code for case in CASES} == {EXIT_BAD_INPUT, EXIT_FILE}
    assert {EXIT_SOLVER_FAILED, EXIT_INTERRUPTED} == {3, 130}


def table() -> str:
    """The Markdown table of docs/errors.md."""
    lines = ["| Kind of bad input | Example | Exit | The message says | Test |", "|---|---|---|---|---|"]
    for case in CASES:
        # The checkout's own path is dropped before long arguments are cut, so the table reads the same wherever
        # the repository lives.
        argv = (arg.replace(str(ROOT) + "/", "") for arg in case.argv)
        shown = (arg if len(arg) <= 60 else f"{arg[:12]}... ({len(arg)} characters)" for arg in argv)
        example = " ".join(arg if " " not in arg else f"'{arg}'" for arg in shown if not arg.startswith("--no-"))
        example = example.replace("{tmp}/", "").replace("{tmp}", ".")
        example = example.replace("|", "\\|")
        message = case.message.replace("{tmp}/", "").replace("|", "\\|")
        test = f"`test_bad_input[{case.id}]`"
        lines.append(f"| {case.kind} | `eomctl {example}` | {case.code} | {message} | {test} |")
    for kind, code, message, test in ELSEWHERE:
        lines.append(f"| {kind} | API / Ctrl-C | {code} | {message} | `{test}` |")
    return "\n".join(lines)


BEGIN, END = "<!-- table: tests/cli/test_bad_input.py -->", "<!-- end table -->"


def test_the_docs_table_is_this_list() -> None:
    text = DOCS.read_text()
    block = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()
    assert block == table(), "docs/errors.md is out of date: run python tests/cli/test_bad_input.py"


def test_every_test_named_in_the_table_exists() -> None:
    for _, _, _, test in ELSEWHERE:
        path, _, name = test.partition("::")
        assert (ROOT / path).is_file(), path
        assert not name or f"def {name}(" in (ROOT / path).read_text(), test


if __name__ == "__main__":  # rewrite the table in docs/errors.md
    text = DOCS.read_text()
    head, tail = text[: text.index(BEGIN) + len(BEGIN)], text[text.index(END) :]
    DOCS.write_text(f"{head}\n{table()}\n{tail}")
    sys.exit(0)
