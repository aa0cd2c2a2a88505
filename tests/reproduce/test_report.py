"""The HTML report opened in a real headless Chromium: every figure must render (stand-in parts, no simulation)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from eomctl.reproduce.part import KeyNumber, Part, PartResult, PartSkipped
from eomctl.reproduce.runner import reproduce

BROWSERS = ("chromium", "chromium-browser")
# Appended to a copy of the report: after load, write how many images decoded (complete and with a width).
CHECK_SCRIPT = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.filter(function (img) { return img.complete && img.naturalWidth > 0; }).length;
  var marker = document.createElement("div");
  marker.id = "figure-check";
  marker.textContent = "FIGURES " + ok + "/" + images.length;
  document.body.appendChild(marker);
});
</script>"""
BROKEN_IMAGE = '<img alt="broken on purpose" src="data:image/png;base64,bm90IGEgcG5n">'


def _chromium() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is not installed: run `make setup` (its `browser` target installs Debian's chromium)")


def _figure_part(name: str, colour: str) -> Part:
    def function(out_dir: Path, quick: bool, executor: str) -> PartResult:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from eomctl.plotting.figures import save_figure

        files = []
        for k in range(2):
            fig, ax = plt.subplots(figsize=(4, 3), dpi=60)
            ax.plot(np.linspace(0, 1, 20), np.linspace(0, 1, 20) ** (k + 1), color=colour)
            files.append(save_figure(fig, out_dir / f"{name}_{k}.png"))
        rows = [{"quantity": "stand-in", "value_j_per_k": 1.25}]
        return PartResult(f"{name}: a stand-in paragraph.", files, {"values": rows}, {"n": KeyNumber(2, "", "n")})

    return Part(name, f"Stand-in {name}", function, quick_budget="stand-in: 2 figures", full_budget="stand-in")


def _skipped(out_dir: Path, quick: bool, executor: str) -> PartResult:
    raise PartSkipped("stand-in reason")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results")
    parts = [_figure_part("alpha", "tab:blue"), _figure_part("beta", "tab:red"), Part("gamma", "Skip", _skipped)]
    reproduce(parts, out, quick=True, executor="serial")
    return out / "report.html"


def _dump_dom(browser: str, page: Path, profile: Path) -> str:
    command = [browser, "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={profile}",
               "--virtual-time-budget=10000", "--dump-dom", page.as_uri()]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def _figures_rendered(browser: str, report: Path, tmp_path: Path, extra: str = "") -> tuple[int, int]:
    page = tmp_path / "check.html"
    page.write_text(report.read_text().replace("</body>", extra + CHECK_SCRIPT + "</body>"))
    match = re.search(r"FIGURES (\d+)/(\d+)", _dump_dom(browser, page, tmp_path / "profile"))
    assert match, "the check script did not run in Chromium"
    return int(match.group(1)), int(match.group(2))


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text()
    sources = re.findall(r'<img[^>]*src="([^"]*)"', text)
    assert len(sources) == 4 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"(src|href)=[\"'](https?:|//|file:)", text)
    assert "<script" not in text and "<link" not in text
    for needle in ("Key results", "Performance", "alpha: a stand-in paragraph.", "stand-in reason", "quick"):
        assert needle in text


def test_every_figure_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    browser = _chromium()
    assert _figures_rendered(browser, report, tmp_path) == (4, 4)
    # The check can fail: an image that does not decode is counted as not rendered.
    assert _figures_rendered(browser, report, tmp_path, extra=BROKEN_IMAGE) == (4, 5)


def test_report_screenshot_is_not_blank(report: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "shot.png"
    command = [_chromium(), "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={tmp_path / 'p'}",
               "--hide-scrollbars", "--window-size=1280,8000", "--virtual-time-budget=10000",
               f"--screenshot={shot}", report.as_uri()]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    assert pixels.std() > 10.0  # text, tables and figures, not a blank page
    blue = (pixels[..., 0] < 80) & (pixels[..., 1] > 90) & (pixels[..., 1] < 150) & (pixels[..., 2] > 150)
    # The first stand-in figure's line (tab:blue) is on the page. A tall window and a virtual-time budget let the
    # embedded images decode before the shot (a loaded CI machine once took the shot with the figure still blank).
    assert blue.sum() > 50
