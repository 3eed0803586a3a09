"""Self-contained HTML pages: layout and style, figure cards, tables, coloured diffs.

The one way a plot reaches a page (the run report's and the simulator's alike): a matplotlib figure
becomes base64 PNG text in `golddiff.report.plots` (`png`), and a `Figure` card here inlines it as a data
URI, so a page is one file with no external requests. Everything else is escaped (`html.escape`).

    page = document("title", [figures_section("Plots", [Figure("Reward", "what it shows", b64, "")])])

No torch, no matplotlib.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f8fafc; --card:#fff; --accent:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:var(--bg); }
main { max-width:1120px; margin:0 auto; padding:28px 24px 60px; }
h1 { font-size:26px; margin:0 0 4px; } h2 { font-size:20px; margin:36px 0 12px; border-bottom:2px solid var(--line); padding-bottom:6px; }
h3 { font-size:16px; margin:0 0 4px; }
.sub { color:var(--muted); margin:0 0 18px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px; margin:14px 0; }
.what { color:var(--muted); margin:0 0 10px; font-size:14px; }
.note { background:#fffbeb; border:1px solid #fde68a; color:#92400e; border-radius:8px; padding:10px 12px; font-size:14px; }
img.plot { display:block; max-width:100%; height:auto; margin:6px auto 0; }
.imgs { display:flex; flex-wrap:wrap; gap:8px; } .imgs img.plot { flex:1 1 420px; max-width:49%; }
table { border-collapse:collapse; width:100%; font-size:14px; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#f1f5f9; font-weight:600; } td.num { text-align:right; font-variant-numeric:tabular-nums; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(300px,1fr)); gap:10px; }
pre { background:#0f172a; color:#e2e8f0; padding:10px 12px; border-radius:8px; overflow:auto; font-size:12px;
      line-height:1.45; max-height:320px; margin:4px 0 0; white-space:pre-wrap; word-break:break-word; }
.tag { display:inline-block; font-size:12px; padding:1px 8px; border-radius:999px; background:#eef2ff; color:#3730a3; margin-left:6px; }
.bad { background:#fee2e2; color:#991b1b; } .good { background:#dcfce7; color:#166534; }
.add { color:#86efac; } .del { color:#fca5a5; } .hunk { color:#93c5fd; }
footer { color:var(--muted); font-size:12px; margin-top:40px; }
td:first-child { white-space:nowrap; }
"""


@dataclass
class Figure:
    title: str
    what: str  # the "what you are looking at" line
    images: list[str] | str | None  # base64 PNG(s); None = not available
    missing: str  # the note shown instead when images is None


def e(text: Any) -> str:
    return html.escape(str(text))


def fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) < 1000 else f"{v:,.0f}"
    return e(v)


def document(title: str, sections: Sequence[str], tool: str = "golddiff report") -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{e(title)}</title>"
        f"<style>{CSS}</style></head><body><main>\n<h1>{e(title)}</h1>"
        f"<p class=sub>Written by <code>{e(tool)}</code> on {stamp}. Every plot is embedded in this file.</p>\n"
        + "\n".join(sections)
        + "\n<footer>golddiff: gold diffs from coding-agent sessions, Pipeline RL.</footer></main></body></html>\n"
    )


def _img(b64: str, alt: str) -> str:
    return f"<img class=plot alt='{e(alt)}' src='data:image/png;base64,{b64}'>"


def figure(fig: Figure) -> str:
    head = f"<div class=card><h3>{e(fig.title)}</h3><p class=what>{e(fig.what)}</p>"
    if not fig.images:
        return head + f"<div class=note>No plot: {e(fig.missing)}.</div></div>"
    images = [fig.images] if isinstance(fig.images, str) else fig.images
    body = "".join(_img(b, fig.title) for b in images)
    return head + (f"<div class=imgs>{body}</div>" if len(images) > 1 else body) + "</div>"


def figures_section(title: str, figs: Sequence[Figure]) -> str:
    return f"<section><h2>{e(title)}</h2>" + "".join(figure(f) for f in figs) + "</section>"


def table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    th = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class=num>{c}</td>" if i >= numeric_from else f"<td>{c}</td>" for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


# -------------------------------------------------------------------------------------- examples


def colour_diff(diff: str) -> str:
    out = []
    for line in diff.splitlines():
        cls = (
            "hunk"
            if line.startswith("@@")
            else "add"
            if line.startswith("+")
            else "del"
            if line.startswith("-")
            else ""
        )
        if line.startswith(("+++", "---")):
            cls = "hunk"
        out.append(f"<span class={cls}>{e(line)}</span>" if cls else e(line))
    return "\n".join(out)
