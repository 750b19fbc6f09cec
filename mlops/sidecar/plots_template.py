"""DVC's HTML template for `dvc plots show`, with Vega inlined so the page draws offline.

DVC's default page loads Vega, Vega-Lite and vega-embed from a CDN, so without network it is
blank. ``render`` makes DVC's own page layout with the three bundles from npm (``tools/vega``,
pinned; ``make`` installs them) inlined; ``mlops/scripts/plots_template.py`` writes it to
``mlops/plots/offline_template.html`` and ``.dvc/config`` names it (``plots.html_template``), so
plain ``dvc plots show`` works offline.
"""

from __future__ import annotations

from pathlib import Path

from ml_model.paths import REPO_ROOT

VEGA_MODULES = REPO_ROOT / "tools" / "vega" / "node_modules"
BUNDLES = ("vega/build/vega.min.js", "vega-lite/build/vega-lite.min.js", "vega-embed/build/vega-embed.min.js")
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>LegalAid Connect: pipeline plots (dvc plots show)</title>
    <style>table {{ border-spacing: 15px; }} body {{ font-family: system-ui, sans-serif; }}</style>
    {inline_scripts}
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def render(modules: Path = VEGA_MODULES) -> str:
    """The template text; DVC fills ``{plot_divs}`` and ``{refresh_tag}`` (no ``{scripts}``: no CDN)."""
    scripts = []
    for rel in BUNDLES:
        path = modules / rel
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `make node-deps` (npm ci in tools/vega)")
        scripts.append(f"<script>{path.read_text(encoding='utf-8')}</script>")
    return PAGE.format(
        inline_scripts="\n".join(scripts), refresh_tag="{refresh_tag}", plot_divs="{plot_divs}"
    )
