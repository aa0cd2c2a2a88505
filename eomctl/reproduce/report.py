"""A self-contained HTML report of a :func:`eomctl.reproduce.runner.reproduce` run, and the figure stamp of quick runs.

``report.html`` needs nothing but itself: figures are embedded as base64 PNG data URIs, the style sheet is inline, and
there is no script and no external reference, so it opens offline in any browser. It holds the key-results table, the
performance table, the parts' wall times, and per part its title, paragraph, tables, figures, wall time and budgets.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eomctl.core.io import atomic_write_bytes, atomic_write_text

STAMP_HEIGHT_PX = 34  # the strip's height on figures up to 1600 px wide; wider ones get a proportional strip
STYLE = """
body { font-family: sans-serif; max-width: 1250px; margin: 2em auto; color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; display: block; overflow-x: auto; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
.status-ok { color: #176117; } .status-skipped { color: #8a5a00; } .status-error { color: #a01010; }
.meta { color: #555; font-size: 0.9em; }
section { border-top: 2px solid #ccc; margin-top: 2em; }
"""


def stamp_figure(path: str | Path, text: str) -> Path:
    """Add a strip with ``text`` (e.g. a quick run's budgets) under a PNG figure, rewriting it atomically.

    Parameters
    ----------
    path : str or Path
        A PNG file.
    text : str
        One line; long lines are cut to the image width by the font size, not wrapped.

    Returns
    -------
    Path
        ``path``.
    """
    from PIL import Image, ImageDraw, ImageFont

    with Image.open(path) as original:
        image = original.convert("RGB")
    height = max(STAMP_HEIGHT_PX, image.width * STAMP_HEIGHT_PX // 1600)
    stamped = Image.new("RGB", (image.width, image.height + height), "white")
    stamped.paste(image, (0, 0))
    draw = ImageDraw.Draw(stamped)
    draw.rectangle((0, image.height, image.width, image.height + height), fill=(255, 244, 214))
    size = height * 18 // STAMP_HEIGHT_PX
    font = ImageFont.load_default(size=size)
    while size > 8 and draw.textlength(text, font=font) > image.width - 16:
        size -= 1
        font = ImageFont.load_default(size=size)
    draw.text((8, image.height + (height - size) // 2), text, fill=(120, 60, 0), font=font)
    buffer = io.BytesIO()
    stamped.save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())


def _cell(value: Any) -> str:
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return text
    if number != number or text.strip().lower() in ("true", "false"):
        return text
    if number.is_integer() and abs(number) < 1e12:  # counts (steps, cycles) in full, not as 2.048e+04
        return str(int(number))
    return f"{number:.4g}" if abs(number) < 1e5 else f"{number:.0f}"


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (columns: the union of their keys, in first-seen order)."""
    if not rows:
        return ""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c, "")).replace("|", "\\|") for c in columns) + " |")
    return "\n".join(lines)


def html_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """An HTML table of ``rows``; numbers are right-aligned and shown to 4 significant digits."""
    if not rows:
        return "<p class='meta'>(empty table)</p>"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            text = _cell(row.get(column, ""))
            numeric = text != str(row.get(column, "")) or text.replace(".", "", 1).lstrip("-").isdigit()
            cells.append(f"<td{' class=num' if numeric else ''}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def embed_png(path: str | Path, alt: str) -> str:
    """An ``<img>`` element with the PNG file inline as a base64 data URI.

    The figure is stored with a 256-colour adaptive palette when that is smaller: line plots lose nothing visible and
    the report stays small enough to commit (the full-colour files stay beside it).
    """
    from PIL import Image

    raw = Path(path).read_bytes()
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(raw)) as image:
        image.convert("RGB").quantize(colors=256).save(buffer, format="PNG", optimize=True)
    packed = buffer.getvalue() if buffer.tell() < len(raw) else raw
    data = base64.b64encode(packed).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def read_table(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file as dicts of strings."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def headline_figures(records: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The summary's figures as (file relative to the results folder, caption): each headline part's first."""
    return [(figures[0], caption) for name, caption in HEADLINE_FIGURES
            if (figures := (records.get(name) or {}).get("figures", []))]  # fmt: skip


def _part_section(out: Path, record: Mapping[str, Any], shown: Sequence[str] = ()) -> str:
    status = record["status"]
    state = "resumed (current result of an earlier run)" if record.get("resumed") else status
    state = "from an earlier run (not selected this time)" if record.get("earlier_run") else state
    parts = [
        f"<section id='part-{html.escape(record['name'])}'><h2>{html.escape(record['title'])}</h2>",
        f"<p class='meta'>part <code>{html.escape(record['name'])}</code> · status "
        f"<span class='status-{status}'>{html.escape(state)}</span> · wall time {record['wall_s']:.1f} s · "
        f"{'quick' if record['quick'] else 'full'} run · started {html.escape(record.get('started_utc', ''))}</p>",
        f"<p class='meta'>budgets: quick — {html.escape(record.get('quick_budget', ''))}; "
        f"full — {html.escape(record.get('full_budget', ''))}</p>",
    ]
    if status == "skipped":
        parts.append(f"<p class='status-skipped'>Not run: {html.escape(record.get('reason', ''))}</p>")
    elif status == "error":
        parts.append(f"<p class='status-error'>Failed: {html.escape(record.get('error', ''))}</p>")
        parts.append(f"<pre>{html.escape(record.get('traceback', ''))}</pre>")
    else:
        parts.append(f"<p>{html.escape(record.get('paragraph', ''))}</p>")
        for figure in record.get("figures", []):
            if figure in shown:  # embedded once, in the summary
                parts.append(f"<p class='meta'>Figure <code>{html.escape(figure)}</code>: in the summary above.</p>")
            else:
                parts.append(embed_png(out / figure, f"{record['name']}: {Path(figure).name}"))
        for name, table in record.get("tables", {}).items():
            parts.append(f"<h3>{html.escape(name)} <span class='meta'>({html.escape(table)})</span></h3>")
            parts.append(html_table(read_table(out / table)))
    return "\n".join(parts) + "</section>"


# The headline figures the summary shows first: (part, caption).
HEADLINE_FIGURES = (
    ("pareto", "Charge time, entropy and lithium loss of every standard protocol: the Pareto front, the Entropy "
               "Efficiency Zone and (full run) the optimal-control bound."),
    ("policy", "The shipped policy against CC-CV at the same charge time: current, voltage, temperature, entropy."),
    ("lifetime", "Capacity, resistance and entropy per charge over the cycle life, policy against CC-CV."),
)  # fmt: skip
SUMMARY_COLUMNS = ("result", "chemistry", "research_claim", "measured")
# The key-results rows the summary shows (result text, chemistry): one per research claim and the speed target.
HEADLINE_ROWS = (
    ("Entropy reduction vs CC-CV at matched charge time, trained policy", "NMC"),
    ("Entropy reduction vs CC-CV at matched charge time, best standard protocol", "NMC"),
    ("Lifetime extension vs CC-CV at matched charge time (cycles to 80 % SOH)", "NMC"),
    ("Cycle life at 0 C vs 25 C ambient, same 2C CC-CV fast charge", "NMC"),
    ("Bridge: Pearson r, 10 s pulse resistance vs lambda at 600 s", "NMC+LFP"),
    ("SOH RMSE, real 44-cell set, retention at cycle 299, entropy features", "real"),
    ("Simulator speed-up vs PyBaMM Simulation.step (save=True), SPMe lumped", "NMC"),
)


def _summary(out: Path, figures: Sequence[tuple[str, str]], key_rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The one-screen summary: what the report is, the key results in short, and the headline figures."""
    headline = [{k: row.get(k, "") for k in SUMMARY_COLUMNS} for row in key_rows
                if (row.get("result"), row.get("chemistry")) in HEADLINE_ROWS]  # fmt: skip
    body = [
        "<section id='summary'><h2>Summary</h2>",
        "<p>eomctl simulates lithium-ion cells on PyBaMM models, charges them with standard and learned policies and "
        "measures entropy production, lithium loss and cycle life at a stated charge time. The table sets each "
        "research claim beside what this run measured (every row, with how and where, in the key-results table "
        "below); the figures are the three results the project stands on. Every part's method, figures and tables "
        "follow.</p>",
        html_table(headline),
    ]
    for figure, caption in figures:
        body.append(f"<figure>{embed_png(out / figure, caption)}<figcaption>{html.escape(caption)}</figcaption>"
                    "</figure>")  # fmt: skip
    return [*body, "</section>"]


def write_report(
    path: str | Path,
    manifest: Mapping[str, Any],
    key_rows: Sequence[Mapping[str, Any]],
    performance: Sequence[Mapping[str, Any]],
    performance_note: str = "",
) -> Path:
    """Write the self-contained report.

    Parameters
    ----------
    path : str or Path
        ``report.html`` to write (atomically); part files are read relative to its folder.
    manifest : mapping
        The run's manifest (``quick`` and ``parts``: name -> record, see :func:`eomctl.reproduce.runner.run_part`).
    key_rows, performance : sequence of mappings
        The key-results and performance tables, as written to their CSV files.
    performance_note : str
        Shown instead of the performance table when it is empty (why it was not run).

    Returns
    -------
    Path
        The file written.
    """
    out = Path(path).parent
    records = list(manifest["parts"].values())
    headlines = headline_figures(manifest["parts"])
    shown = [figure for figure, _ in headlines]
    summary = [{"part": r["name"], "status": "resumed" if r.get("resumed") else r["status"],
                "wall_s": f"{r['wall_s']:.1f}", "budget": r.get("budget", ""),
                "note": r.get("reason") or r.get("error") or ""} for r in records]  # fmt: skip
    mode = "quick (small budgets, stated on every figure)" if manifest["quick"] else "full"
    body = [
        "<h1>eomctl: reproduced results</h1>",
        f"<p class='meta'>written {html.escape(manifest['written_utc'])} · mode: {mode} · command: "
        f"<code>{html.escape(manifest.get('command') or 'eomctl reproduce')}</code></p>",
        *_summary(out, headlines, key_rows),
        "<h2>Key results, with how and where</h2>",
        "<p>The research's claims beside what this run measured; every measured value is read from the "
        '<code>key_numbers.json</code> of the part named ("not run" when the part did not produce it).</p>',
        html_table(key_rows),
        "<h2>Performance</h2>",
        html_table(performance) if performance else f"<p>{html.escape(performance_note)}</p>",
        "<h2>Parts and wall times</h2>",
        html_table(summary),
        *(_part_section(out, record, shown) for record in records),
    ]
    document = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>eomctl results</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
    return atomic_write_text(path, document)
