"""A report as one self-contained HTML page: its charts (inline SVG), its tables and its notes,
with the styles inline and no script, so the file opens offline and can be mailed as is."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from .render import Section

__all__ = ["page"]

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.1em; margin-top: 1.8em; }
p.sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: left;
         vertical-align: top; }
th { background: #f3f3f3; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
li.warning { color: #8a5a00; }
div.lead { border-left: 4px solid #2a6f2a; background: #f2f8f2; padding: 0.6em 1em;
           margin: 1em 0; font-size: 1.05em; }
div.lead p { margin: 0.2em 0; }
div.lead ul { margin: 0.3em 0; padding-left: 1.3em; }
div.lead table { margin: 0.3em 0 0.2em; font-size: 0.92em; }
div.lead th { background: #e4efe4; }
div.lead h2 { font-size: 1em; margin: 0.6em 0 0.1em; }
"""


def _table(section: Section) -> str:
    title, headers, rows, numeric = section
    out = [f"<h2>{escape(title)}</h2>"]
    if not rows:
        return out[0] + "<p>None.</p>"
    out.append("<table><thead><tr>" + "".join(
        f'<th class="num">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>"
        for i, h in enumerate(headers)) + "</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(
            f'<td class="num">{escape(c)}</td>' if i in numeric else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def page(title: str, subtitle: str, figures: Sequence[tuple[str, str]],
         sections: Sequence[Section], notes: Sequence[str], lead: Sequence[str] = (),
         actions: Sequence[str] = (), summary: Sequence[Section] = ()) -> str:
    """The page: the executive summary first, under the title: ``lead`` (the answer: the
    recommendation, its margin and proof), ``actions`` (what to buy, sell and commit) and the
    ``summary`` tables (the budget by fiscal year); then the notes, the charts and the tables.
    ``figures`` are (caption, ``<svg>`` text drawn by ``charts``); every other text is
    escaped."""
    body = [f"<h1>{escape(title)}</h1>", f'<p class="sub">{escape(subtitle)}</p>']
    if lead:
        inner = "".join(f"<p>{escape(line)}</p>" for line in lead)
        if actions:
            inner += ("<h2>What to sign</h2><ul>"
                      + "".join(f"<li>{escape(a)}</li>" for a in actions) + "</ul>")
        inner += "".join(_table(s) for s in summary)
        body.append(f'<div class="lead" id="recommendation">{inner}</div>')
    if notes:
        body.append("<ul>" + "".join(
            f'<li class="warning">{escape(n)}</li>' if n.startswith("warning")
            else f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    for caption, svg in figures:
        body.append(f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>")
    body += [_table(s) for s in sections]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
