"""The match service's published contract: an OpenAPI 3.1 description generated from ``ml_model/schema.py``.

The schema is the one source: every field's kind, vocabulary and range, the text and lawyer_id
rules and the request limits come from it, so the description cannot drift from what the
service checks. The service serves it at ``GET /openapi.json``; ``python ml_model/contract.py``
also writes it to ``ml_model/openapi.json`` for tools that read a file, and the tests fail when
that file differs from this module's output (and validate it with openapi-spec-validator).

People read it at ``GET /docs``: Swagger UI (the npm package ``swagger-ui-dist``, pinned in
``tools/swagger-ui`` and vendored there by its ``vendor.sh``) with its script, its stylesheet and
this description inlined into one page that loads nothing from anywhere (``docs_page``).
``GET /`` says where everything is (``index``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any, NamedTuple

from ml_model.openapi_examples import operation_examples
from ml_model.openapi_schemas import ref, request_schemas, response_schemas
from ml_model.paths import REPO_ROOT
from ml_model.schema import MAX_BODY_BYTES, MAX_ERRORS, MAX_INSTANCES, MAX_TEXT_CHARS
from ml_model.wsgi_fast_path import BODY_TIMEOUT_ENV, DEFAULT_BODY_TIMEOUT_S, BodyTimeout

OPENAPI_FILE = REPO_ROOT / "ml_model" / "openapi.json"
DOCS_ASSETS = REPO_ROOT / "tools" / "swagger-ui" / "vendor"
API_VERSION = "1.3.0"  # the contract's own version: raise it when a field, rule or endpoint changes
TITLE = "LegalAid Connect match service"

_DESCRIPTION = f"""Scores (client case, lawyer) pairs with the production model.

Every field comes from `ml_model/schema.py`. A category field is text of at most {MAX_TEXT_CHARS}
characters of valid Unicode (no lone surrogates); a value outside its known values is scored
with that field ignored and named in the answer's `warnings` (nothing is normalised: "Family" is
not read as "family", though the warning suggests it). A 400 lists every problem in `errors`
(location, index, field, message; at most {MAX_ERRORS}, `error_count` counts all) and joins the
first few into the readable `error` sentence. Errors quote at most 40 characters of a value.
A body over {MAX_BODY_BYTES} bytes or a list over {MAX_INSTANCES} entries is a 413; a body not
complete {DEFAULT_BODY_TIMEOUT_S:g} s after the headers ({BODY_TIMEOUT_ENV}) is a 408, and the
connection is closed. Properties not described here are ignored.

Read it as a page at `GET /docs` (Swagger UI, served by the service itself); the description is
`GET /openapi.json`, and `GET /` lists both."""


def _json_content(schema: dict[str, Any], examples: dict[str, Any] | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = examples
    return {"application/json": media}


_TEXT = {"type": "string"}


def _responses(
    ok: str,
    ok_schema: str | None,
    errors: dict[str, str],
    examples: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The 200 (a schema name, or None for text) and the error statuses an operation answers,
    with ``examples`` by status."""
    examples = examples or {}
    content = (
        _json_content(ref(ok_schema), examples.get("200")) if ok_schema else {"text/plain": {"schema": _TEXT}}
    )
    out: dict[str, Any] = {"200": {"description": ok, "content": content}}
    for status, (description, schema) in {
        **{code: (text, "BadRequest" if code == "400" else "Error") for code, text in errors.items()},
        "500": ("An internal error (logged by the service, not explained).", "Error"),
    }.items():
        out[status] = {
            "description": description,
            "content": _json_content(ref(schema), examples.get(status)),
        }
    return out


def _examples() -> dict[str, dict[str, dict[str, Any]]]:
    return operation_examples(BodyTimeout(DEFAULT_BODY_TIMEOUT_S).description)


def _scoring_operation(name: str, summary: str, request: str, response: str) -> dict[str, Any]:
    examples = _examples()[name]
    return {
        "operationId": name,
        "tags": ["scoring"],
        "summary": summary,
        "requestBody": {"required": True, "content": _json_content(ref(request), examples["request"])},
        "responses": _responses(
            "Scored.",
            response,
            {
                "400": "The request breaks the contract: every problem is listed.",
                "408": f"The body did not fully arrive within {BODY_TIMEOUT_ENV} seconds of the headers "
                f"(default {DEFAULT_BODY_TIMEOUT_S:g}); the connection is closed.",
                "413": f"A body over {MAX_BODY_BYTES} bytes or a list over {MAX_INSTANCES} entries.",
            },
            examples,
        ),
    }


def _get(name: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    """A GET endpoint's description."""
    return {"get": {"operationId": name, "tags": ["service"], "summary": summary, "responses": responses}}


def _paths() -> dict[str, Any]:
    """Every endpoint the service answers."""
    document = {"description": "The OpenAPI 3.1 document.", "content": _json_content({"type": "object"})}
    page = {"text/html": {"schema": _TEXT}}
    index = {**_json_content(ref("Index")), **page}
    return {
        "/": _get(
            "index",
            "Where everything is: links to /docs, /openapi.json, /health and /metrics (HTML for a browser).",
            {"200": {"description": "JSON, or HTML when the client prefers it.", "content": index}},
        ),
        "/docs": _get(
            "docs",
            "This description as a page (Swagger UI, self-contained: it loads nothing from anywhere).",
            {
                "200": {"description": "The page.", "content": page},
                "503": {
                    "description": f"The page's files are missing from {DOCS_ASSETS.relative_to(REPO_ROOT)}.",
                    "content": _json_content(ref("Error")),
                },
            },
        ),
        "/health": _get(
            "health",
            "Liveness and the model being served.",
            _responses("Serving.", "Health", {}, _examples()["health"]),
        ),
        "/predict": {
            "post": _scoring_operation(
                "predict",
                "Match probabilities for complete (case, lawyer) pairs, in input order.",
                "PredictRequest",
                "PredictResponse",
            )
        },
        "/rank": {
            "post": _scoring_operation(
                "rank", "One case against many lawyers, best match first.", "RankRequest", "RankResponse"
            )
        },
        "/metrics": _get("metrics", "Prometheus metrics (text format).", _responses("Metrics.", None, {})),
        "/openapi.json": _get("openapi", "This description.", {"200": document}),
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the match service, from the schema (plain data, no I/O)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": API_VERSION,
            "description": _DESCRIPTION,
        },
        "servers": [{"url": "http://127.0.0.1:8000", "description": "The development server's default."}],
        "tags": [
            {"name": "scoring", "description": "Match probabilities: what the backend calls."},
            {"name": "service", "description": "Where things are, liveness, metrics and this description."},
        ],
        "paths": _paths(),
        "components": {"schemas": {**request_schemas(), **response_schemas()}},
    }


def rendered() -> str:
    """The committed file's exact text (stable: sorted keys, one trailing newline)."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def index(document: dict[str, Any]) -> dict[str, Any]:
    """GET /'s answer: the links a person needs and every operation, from the description."""
    return {
        "service": TITLE,
        "api_version": document["info"]["version"],
        "links": {"docs": "/docs", "openapi": "/openapi.json", "health": "/health", "metrics": "/metrics"},
        "endpoints": [
            {"method": method.upper(), "path": path, "summary": op["summary"]}
            for path, item in document["paths"].items()
            for method, op in item.items()
        ],
    }


# Every page the service serves may run only its own inline scripts (by hash), load nothing from
# anywhere and talk to nothing but its own origin; a browser enforces it whatever the page holds.
_PAGE_POLICY = (
    "default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'"
)


class Page(NamedTuple):
    """An HTML page and the Content-Security-Policy to send with it (also in its <meta>)."""

    body: bytes
    csp: str


def _script_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"


def _page(title: str, head: str, body: str, scripts: list[str]) -> Page:
    csp = _PAGE_POLICY.format(scripts=" ".join(map(_script_hash, scripts)) or "'none'")
    tags = "".join(f"<script>{script}</script>" for script in scripts)
    text = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(csp)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n{head}</head>\n<body>\n{body}\n{tags}\n</body>\n</html>\n"
    )
    return Page(text.encode("utf-8"), csp)


def _asset(name: str, closing_tag: str, assets: Path) -> str:
    """A vendored file's text, without its source-map comment, checked to be safe to inline in
    ``closing_tag``'s element (it must not close it early)."""
    text = (assets / name).read_text(encoding="utf-8")
    text = re.sub(r"\n?(//# sourceMappingURL=\S+|/\*# sourceMappingURL=[^*]*\*/)\s*$", "\n", text)
    if closing_tag in text.lower():
        raise ValueError(f"{assets / name} holds {closing_tag!r}: it cannot be inlined in a page")
    return text


_DOCS_INIT = """window.ui = SwaggerUIBundle({
  spec: JSON.parse(document.getElementById("openapi").textContent),
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis],
  validatorUrl: null,
  queryConfigEnabled: false,
  deepLinking: true,
  displayRequestDuration: true,
  defaultModelsExpandDepth: 0,
});"""

_DOCS_STYLE = """<style>
.top { font-family: sans-serif; margin: 0; padding: 10px 20px; background: #1f2d3d; color: #fff; }
.top a { color: #fff; margin-right: 1.2em; }
</style>
"""


def docs_page(document: dict[str, Any], assets: Path = DOCS_ASSETS) -> Page:
    """GET /docs: Swagger UI with its script, its stylesheet and ``document`` inlined, so the page
    needs nothing but itself (no CDN, no fetch of /openapi.json). "Try it out" calls the service
    that served the page (the page's copy of the description names no server). Raises OSError when
    the vendored files are missing."""
    bundle = _asset("swagger-ui-bundle.js", "</script", assets)
    css = _asset("swagger-ui.css", "</style", assets)
    spec = {**document, "servers": [{"url": "/", "description": "The service that served this page."}]}
    spec_json = json.dumps(spec, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    head = f"<style>{css}</style>\n{_DOCS_STYLE}"
    body = (
        f'<p class="top"><strong>{html.escape(TITLE)}</strong> &mdash; '
        '<a href="/">index</a><a href="/openapi.json">openapi.json</a>'
        '<a href="/health">health</a><a href="/metrics">metrics</a></p>\n'
        '<div id="swagger-ui"></div>\n'
        f'<script id="openapi" type="application/json">{spec_json}</script>'
    )
    return _page(f"{TITLE}: API", head, body, [bundle, _DOCS_INIT])


def index_page(document: dict[str, Any]) -> Page:
    """GET / for a browser: the same links and operations as ``index``, as a page."""
    data = index(document)
    links = "".join(
        f'<li><a href="{html.escape(url)}">{html.escape(url)}</a> ({name})</li>'
        for name, url in data["links"].items()
    )
    rows = "".join(
        f"<li><code>{html.escape(e['method'])} {html.escape(e['path'])}</code>: {html.escape(e['summary'])}</li>"
        for e in data["endpoints"]
    )
    body = (
        f"<h1>{html.escape(TITLE)}</h1>\n<p>API version {html.escape(data['api_version'])}. "
        'Read and try the API at <a href="/docs">/docs</a>.</p>\n'
        f"<ul>{links}</ul>\n<h2>Endpoints</h2>\n<ul>{rows}</ul>"
    )
    return _page(TITLE, "<style>body { font-family: sans-serif; margin: 2em; }</style>\n", body, [])
