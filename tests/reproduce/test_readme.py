"""Results blocks (eomctl.reproduce.readme): rendering from results files; README and docs/ in step with results/."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from eomctl.core.errors import ConfigError
from eomctl.core.resources import REPO_ROOT
from eomctl.reproduce.readme import (
    BlockSpec,
    block_files,
    documents,
    missing_files,
    render,
    stale_blocks,
    sync_readme,
    sync_text,
)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    part = tmp_path / "protocols"
    part.mkdir()
    (part / "protocols.csv").write_text(
        "chemistry,policy,charge_time_s\nNMC,agents/ppo_X-v0.zip,2069.855901\nLFP,cccv:rate=1C,3123.4\n"
    )
    record = {"quick": False, "budget": "1 episode", "wall_s": 61.2, "started_utc": "2026-11-25T05:00:00+00:00"}
    (part / "part.json").write_text(json.dumps(record))
    (tmp_path / "key.md").write_text("| a |\n|---|\n| 1 |\n")
    return tmp_path


def test_block_spec_parses_options() -> None:
    spec = BlockSpec.parse("protocols/protocols.csv columns=policy,charge_time_s where=chemistry=NMC rename=policy:p")
    assert spec.file == "protocols/protocols.csv" and spec.columns == ("policy", "charge_time_s")
    assert spec.where == (("chemistry", "NMC"),) and spec.rename == (("policy", "p"),)
    for bad in ("", "a.csv columns", "a.csv where=x", "a.csv colour=red"):
        with pytest.raises(ConfigError):
            BlockSpec.parse(bad)


def test_render_states_the_origin_and_filters(results: Path) -> None:
    spec = BlockSpec.parse("protocols/protocols.csv columns=policy,charge_time_s where=chemistry=NMC rename=policy:p")
    text = render(spec, results)
    assert text.startswith("*From `results/protocols/protocols.csv` (full run, 2026-11-25: 1 episode; part wall time")
    assert "| p | charge_time_s |" in text and "| agents/ppo_X-v0.zip | 2070 |" in text and "LFP" not in text
    assert render(BlockSpec.parse("key.md"), results) == "| a |\n|---|\n| 1 |\n"
    assert "Not measured" in render(BlockSpec.parse("protocols/missing.csv"), results)
    assert "its part has not run" in render(BlockSpec.parse("nopart/x.csv"), results)
    with pytest.raises(ConfigError, match="no column"):
        render(BlockSpec.parse("protocols/protocols.csv columns=entropy"), results)
    with pytest.raises(ConfigError, match="no row"):
        render(BlockSpec.parse("protocols/protocols.csv where=chemistry=XYZ"), results)


def test_sync_rewrites_stale_blocks_only(results: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("intro 1.5 s\n<!-- results: key.md -->\nold table\n<!-- /results -->\nend\n")
    assert stale_blocks(readme.read_text(), results) == ["key.md"]
    assert sync_readme(readme, results) == ["key.md"]
    text = readme.read_text()
    assert text == "intro 1.5 s\n<!-- results: key.md -->\n| a |\n|---|\n| 1 |\n<!-- /results -->\nend\n"
    assert sync_readme(readme, results) == [] and sync_text(text, results) == text


def test_readme_and_docs_show_what_the_reproduce_command_wrote() -> None:
    """Every measured figure in README and docs/ sits in a results block equal to what its file in results/ renders
    (regenerate them together: ``eomctl reproduce`` re-renders the pages when it writes the repository's results/)."""
    pages = documents(REPO_ROOT)
    assert REPO_ROOT / "README.md" in pages and len(pages) > 10
    assert "key_results_short.md" in block_files((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    files = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        files += block_files(text)
        assert stale_blocks(text, REPO_ROOT / "results") == [], page
        assert missing_files(text, REPO_ROOT / "results") == [], page  # the committed results/ hold every file
    assert len(files) >= 10


def test_readme_python_tour_runs(tmp_path: Path) -> None:
    """README's Python snippet runs as written (in a fresh interpreter, from another folder)."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    snippets = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    assert len(snippets) == 1
    script = tmp_path / "tour.py"
    script.write_text(snippets[0], encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    charge_time_s, entropy_j_per_k, lli_pct = (float(v) for v in done.stdout.split()[-3:])
    assert 1000 < charge_time_s < 3600 and entropy_j_per_k > 0 and lli_pct > 0


def test_local_links_of_readme_and_docs_resolve() -> None:
    """Every relative link in README.md and docs/ names a file of the repository (mkdocs --strict also checks the
    anchors of docs/; this covers README, which mkdocs does not build)."""
    dead = []
    for page in documents(REPO_ROOT):
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            path = target.split("#", 1)[0]
            if not path or re.match(r"[a-z]+:", path):
                continue  # an anchor on the same page, or a URL
            if not (page.parent / path).exists():
                dead.append(f"{page.relative_to(REPO_ROOT)} -> {target}")
    assert dead == []
