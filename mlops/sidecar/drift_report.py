"""The drift report people read: our verdict first, then Evidently's evidence, in one HTML file.

Evidently renders the per-column scores and the tests that carry our rule (share of drifted
columns, each key feature); its HTML has no headline of its own for them, its test summary sits on
a second tab below every column's section, and its page title is Plotly's ("plotly-logomark"). So
the page is given our title and, above Evidently's widgets, a header that fits the first screen at
1280 px: the verdict and its reasons, what to do next (``next_steps``), the tests' pass or fail in
one table (with, when the rows are labelled, production's ROC AUC test: ``drift._auc_snapshot``),
then the run's metadata (time, inputs, rows, production model version, rule). The verdict's
sentence (``drift.Verdict.line``) is the one the CLI, the header and the job summary share. A NO
VERDICT page is the header alone and states no column's result: neither Evidently's sections nor
our list of columns over the threshold (the scores stay in the JSON).
Reports are kept to the newest ``monitor.keep_reports``: each is about 4 MB of bundled JavaScript.
"""

from __future__ import annotations

import html
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from ml_model.common import atomic_write_json, atomic_write_text
from mlops.sidecar.drift_next_steps import next_steps, verdict_word

log = logging.getLogger(__name__)

REPORT_PREFIX = "data_drift_report_"
_STYLE = (
    "font-family:system-ui,sans-serif;margin:12px 24px;padding:12px 20px;border-radius:8px;"
    "border:2px solid {color};background:#fff;color:#111;line-height:1.4;font-size:14px"
)
_COLORS = {"DRIFT": "#b3261e", "NO DRIFT": "#1b6e3a", "NO VERDICT": "#8a5a00"}
_H2 = "style='font-size:16px;margin:6px 0 4px'"
_CELL = "style='text-align:left;padding:2px 10px 2px 0;vertical-align:top'"
_NUM = "style='text-align:right;padding:2px 10px 2px 0;vertical-align:top;font-variant-numeric:tabular-nums'"


def _inline(text: str) -> str:
    """A step as HTML: escaped text, the backticked parts as <code>."""
    parts = text.split("`")
    return "".join(
        f"<code style='font-size:13px;background:#f2f2f2;padding:0 3px'>{html.escape(p)}</code>"
        if i % 2
        else html.escape(p)
        for i, p in enumerate(parts)
    )


def _rule_text(rule: dict[str, Any]) -> str:
    """The monitor's rule in one sentence."""
    return (
        f"a column drifts at score >= {rule['threshold']}; dataset drift when a share >= "
        f"{rule['drift_share']} of columns drift, or any of {', '.join(rule['key_features'])} "
        f"drifts, or labelled ROC AUC falls > {rule['max_auc_drop']}; no verdict below "
        f"{rule['min_rows']:,} rows"
    )


def _quality_text(quality: dict[str, Any]) -> str:
    """Production on the labelled rows beside its one reference figure: the held-out ROC AUC."""
    cur, ref = quality["current"]["roc_auc"], quality["reference"]["roc_auc"]
    held = quality.get("reference_rows")
    on = f" on production's {held:,} held-out rows (not trained on)" if held else " (held-out rows)"
    floor = quality.get("auc_floor")
    below = f"; concept drift below {floor:.4f}" if floor is not None else ""
    return f"ROC AUC {cur:.4f} on {quality['labelled_rows']:,} labelled rows; reference {ref:.4f}{on}{below}"


def _rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """The metadata rows of the header (plain text; escaped when rendered)."""
    rows = result["rows"]
    out = [
        ("Reference", f"{result['reference']} ({rows['reference']:,} rows)"),
        ("Current", f"{result['current']} ({rows['current']:,} rows, {rows['tested']:,} tested)"),
        ("Unknown-category rows", f"{result['unknown_category_rows']:,} (left out of the tests)"),
    ]
    if result["enough_data"]:
        out.append(("Drifted columns", ", ".join(result["drifted_columns"]) or "none"))
    else:  # no column is judged, so none is named: the scores are in the JSON only
        out.append(("Column scores", "in the JSON report beside this page, not judged"))
    quality = result.get("classification_quality")
    if quality:
        out.append(("Labelled quality", _quality_text(quality)))
    out.append(("Rule", _rule_text(result["rule"])))
    return out


def _subtitle(result: dict[str, Any]) -> str:
    when = datetime.strptime(result["timestamp"], "%Y%m%d_%H%M%S").strftime("%Y-%m-%d %H:%M:%S UTC")
    version = result.get("production_model_version") or "unknown"
    return f"{when} · production model {version} · {result['rows']['tested']:,} current rows tested"


def _threshold(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "–"


def tests_table(result: dict[str, Any]) -> str:
    """The tests of the rule, pass or fail, value against threshold: the summary Evidently keeps on a tab."""
    tests = result.get("tests") or []
    if not tests:
        why = (
            "No tests were run: below the rule's minimum rows a pass or a fail would be sampling noise."
            if not result["enough_data"]
            else "No tests in this report."
        )
        return f"<p style='margin:0'>{html.escape(why)}</p>"
    head = "".join(
        f"<th scope='col' {_CELL[:-1]};white-space:nowrap'>{h}</th>"
        for h in ("Test", "Result", "Value", "Passes when")
    )
    body = []
    for t in tests:
        ok = t["passed"]
        mark = "pass" if ok else ("FAIL" if t.get("status", "FAIL") == "FAIL" else str(t["status"]))
        value = "–" if t.get("value") is None else f"{t['value']:.4f}"
        body.append(
            f"<tr><td {_CELL}>{html.escape(t['test'])}</td>"
            f"<td {_CELL}><strong style='color:{_COLORS['NO DRIFT'] if ok else _COLORS['DRIFT']}'>"
            f"{html.escape(mark)}</strong></td><td {_NUM}>{value}</td>"
            f"<td {_CELL[:-1]};white-space:nowrap'>{html.escape(t['operator'])} "
            f"{_threshold(t.get('threshold'))}</td></tr>"
        )
    return (
        "<table style='border-collapse:collapse;font-size:13px'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def header_html(result: dict[str, Any]) -> str:
    """Our verdict as the page's headline block: verdict, next steps and the tests on the first screen."""
    word = verdict_word(result)
    color = _COLORS[word]
    reasons = result["reasons"] or ["no rule of the monitor was met"]
    items = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
    steps = "".join(f"<li>{_inline(s)}</li>" for s in next_steps(result))
    table = "".join(
        f"<tr><th scope='row' {_CELL}>{html.escape(k)}</th>"
        f"<td style='padding:2px 0'>{html.escape(v)}</td></tr>"
        for k, v in _rows(result)
    )
    return (
        f"<header id='legalaid-verdict' role='banner' style='{_STYLE.format(color=color)}'>"
        f"<h1 style='margin:0;font-size:24px;color:{color}'>Drift verdict: {word}</h1>"
        f"<p style='margin:2px 0 4px;color:#444;font-size:13px'>{html.escape(_subtitle(result))}</p>"
        f"<ul style='margin:0 0 6px;padding-left:22px'>{items}</ul>"
        "<div style='display:flex;flex-wrap:wrap;gap:4px 32px;align-items:flex-start'>"
        f"<section id='legalaid-next-steps' style='flex:1 1 560px;min-width:0'><h2 {_H2}>What to do next</h2>"
        f"<ol style='margin:0;padding-left:22px'>{steps}</ol></section>"
        f"<section id='legalaid-tests' style='flex:0 1 520px;min-width:0'><h2 {_H2}>Tests of the rule</h2>"
        f"{tests_table(result)}</section></div>"
        f"<h2 {_H2}>This run</h2><table style='font-size:13px;border-collapse:collapse'>{table}</table>"
        f"<p style='margin:8px 0 0;font-size:13px'>{_BELOW if result['enough_data'] else _FEW_ROWS}</p>"
        "</header>"
    )


_BELOW = (
    "Below: Evidently's drift score and plots for every column; its Tests tab holds the column tests of "
    "the table above. Production's ROC AUC test runs in Evidently on the labelled current rows alone, so "
    "the only reference ROC AUC here is the held-out one (Evidently's would include the training rows). "
    "The verdict above is the monitor's (monitor_model.py), the same as its JSON report and log."
)
_FEW_ROWS = (
    "Evidently's column plots are left out of this report: below the rule's minimum rows they would "
    "show individual clients' answers (its time plot averages about 1/150 of the rows per point). "
    "The column scores are in the JSON report beside this page; collect more rows for a verdict."
)


def few_rows_page(result: dict[str, Any]) -> str:
    """A NO VERDICT report: our header alone, because Evidently's per-point plots of a small window
    are close to the raw rows (see README "What the drift report contains")."""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(page_title(result))}</title></head><body>{header_html(result)}</body></html>"
    )


def page_title(result: dict[str, Any]) -> str:
    """The browser tab's text: the verdict and the time, not Plotly's logo name."""
    return f"Drift {verdict_word(result).lower()} — LegalAid monitor {result['timestamp']}"


def with_header(page: str, result: dict[str, Any]) -> str:
    """Evidently's standalone HTML with our title first in <head> and our header first in <body>.

    Evidently's <head> has no title of its own (the tab showed the first <title> in Plotly's
    bundled SVG, "plotly-logomark"); only the tags themselves are searched, never the scripts.
    """
    title = f"<title>{html.escape(page_title(result))}</title>"
    head = re.search(r"<head(\s[^>]*)?>", page)
    body = re.search(r"<body(\s[^>]*)?>", page)
    if head is None or body is None or body.start() < head.end():
        raise RuntimeError("Evidently's HTML has no <head> before its <body>: cannot place the verdict")
    return (
        page[: head.end()] + title + page[head.end() : body.end()] + header_html(result) + page[body.end() :]
    )


def write_report(snapshot: Any, result: dict[str, Any], out_dir: Path) -> Path:
    """The HTML (our header on Evidently's page) and our JSON beside it, each written atomically."""
    ts = result["timestamp"]
    html_path = out_dir / f"{REPORT_PREFIX}{ts}.html"
    if result["enough_data"]:
        page = with_header(snapshot.get_html_str(as_iframe=False), result)
    else:
        page = few_rows_page(result)
    atomic_write_text(html_path, page, private=True)
    atomic_write_json(out_dir / f"{REPORT_PREFIX}{ts}.json", result, private=True)
    return html_path


_STAMPED = re.compile(REPORT_PREFIX + r"(\d{8}_\d{6})\.(html|json)")


def prune_reports(out_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` reports (HTML and JSON pairs, by the timestamp in the name).

    Only names of exactly our pattern count (a stray ``.bak`` or a temp file is left alone), and
    ``keep`` must be at least 1, so the report just written is never the one deleted.
    """
    if keep < 1:
        raise ValueError(f"monitor.keep_reports must be at least 1, not {keep}")
    stamped = [(m.group(1), p) for p in out_dir.iterdir() if (m := _STAMPED.fullmatch(p.name))]
    old = sorted({stamp for stamp, _ in stamped})[:-keep]
    removed = [p for stamp, p in stamped if stamp in old]
    for path in removed:
        path.unlink(missing_ok=True)
    if removed:
        log.info(
            "Removed %d old report file(s) from %s (keeping the newest %d).", len(removed), out_dir, keep
        )
    return removed
