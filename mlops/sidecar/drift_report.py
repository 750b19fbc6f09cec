"""The drift report people read: our verdict first, then Evidently's evidence, in one HTML file.

Evidently renders the per-column scores and the tests that carry our rule (share of drifted
columns, each key feature); its HTML has no headline of its own for them and its page title is
Plotly's ("plotly-logomark"). So the page is given our title and, above Evidently's widgets, a
header with the verdict, its reasons and the run's metadata (time, inputs, rows, production model
version, rule). The verdict's sentence (``drift.Verdict.line``) is the one the CLI, the header and the
job summary share.
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
from mlops.sidecar.drift import Verdict

log = logging.getLogger(__name__)

REPORT_PREFIX = "data_drift_report_"
_STYLE = (
    "font-family:system-ui,sans-serif;margin:16px 24px;padding:16px 20px;border-radius:8px;"
    "border:2px solid {color};background:#fff;color:#111;line-height:1.45"
)
_COLORS = {"DRIFT": "#b3261e", "NO DRIFT": "#1b6e3a", "NO VERDICT": "#8a5a00"}


def verdict_word(result: dict[str, Any]) -> str:
    """DRIFT, NO DRIFT or NO VERDICT (too few rows) of a report's JSON: the word every view leads with."""
    return Verdict(result["dataset_drift"], result["enough_data"], tuple(result["reasons"])).word


def _rule_text(rule: dict[str, Any]) -> str:
    """The monitor's rule in one sentence."""
    return (
        f"a column drifts at score >= {rule['threshold']}; dataset drift when a share >= "
        f"{rule['drift_share']} of columns drift, or any of {', '.join(rule['key_features'])} "
        f"drifts, or labelled ROC AUC falls > {rule['max_auc_drop']}; no verdict below "
        f"{rule['min_rows']:,} rows"
    )


def _rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """The metadata rows of the header (plain text; escaped when rendered)."""
    rows = result["rows"]
    when = datetime.strptime(result["timestamp"], "%Y%m%d_%H%M%S").strftime("%Y-%m-%d %H:%M:%S UTC")
    drifted = "Drifted columns" if result["enough_data"] else "Columns over the threshold (not judged)"
    out = [
        ("Time", when),
        ("Production model", result.get("production_model_version") or "unknown"),
        ("Reference", f"{result['reference']} ({rows['reference']:,} rows)"),
        ("Current", f"{result['current']} ({rows['current']:,} rows, {rows['tested']:,} tested)"),
        ("Unknown-category rows", f"{result['unknown_category_rows']:,} (left out of the tests)"),
        (drifted, ", ".join(result["drifted_columns"]) or "none"),
        ("Rule", _rule_text(result["rule"])),
    ]
    quality = result.get("classification_quality")
    if quality:
        cur, ref = quality["current"]["roc_auc"], quality["reference"]["roc_auc"]
        out.append(
            (
                "Labelled quality",
                f"ROC AUC {cur:.4f} on {quality['labelled_rows']:,} rows (reference {ref:.4f})",
            )
        )
    return out


def header_html(result: dict[str, Any]) -> str:
    """Our verdict as the page's headline block."""
    word = verdict_word(result)
    reasons = result["reasons"] or ["no rule of the monitor was met"]
    items = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
    table = "".join(
        f"<tr><th style='text-align:left;padding-right:16px;vertical-align:top'>{html.escape(k)}</th>"
        f"<td>{html.escape(v)}</td></tr>"
        for k, v in _rows(result)
    )
    return (
        f"<header id='legalaid-verdict' role='banner' style='{_STYLE.format(color=_COLORS[word])}'>"
        f"<h1 style='margin:0 0 8px;font-size:24px;color:{_COLORS[word]}'>Drift verdict: {word}</h1>"
        f"<ul style='margin:0 0 12px'>{items}</ul><table>{table}</table>"
        f"<p style='margin:12px 0 0;font-size:13px'>{_BELOW if result['enough_data'] else _FEW_ROWS}</p></header>"
    )


_BELOW = (
    "Below: Evidently's drift score for every column. Its tests carry the rule: the share of drifted "
    "columns, each key feature and, when the current rows are labelled, production's ROC AUC. The "
    "verdict above is the monitor's (monitor_model.py), the same as its JSON report and log."
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
