"""One published contract for the match service (issue 13, section 4), over real HTTP.

The service serves an OpenAPI 3.1 description generated from ``ml_model/schema.py``; it is a
valid document (openapi-spec-validator), it describes every field the schema has, and real
answers (scores, warnings, errors) fit it (jsonschema). A bad request lists every problem at
once, with its place; unknown categories are scored and named in ``warnings``; the WSGI fast
path and the Flask path give the same answers. Last, schemathesis fuzzes the live service from
the description: no 5xx, and every answer matches what the description promises.

The description carries realistic examples (fitted to it, and answered by the service as shown),
and people read it at ``GET /docs``: one page with Swagger UI's vendored files and the description
inlined, which names no other host (its rendering in Chromium: tests/browser/service_docs.test.mjs).
"""

from __future__ import annotations

import copy
import hashlib
import html.parser
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import requests
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from ml_model import service_app
from ml_model.openapi import DOCS_ASSETS, OPENAPI_FILE, docs_page, openapi_document
from ml_model.openapi_examples import refused_requests
from ml_model.openapi_schemas import TYPICAL
from ml_model.paths import REPO_ROOT
from ml_model.schema import (
    CASE_FIELDS,
    FEATURE_FIELDS,
    FEATURES,
    LAWYER_FIELDS,
    MAX_ERRORS,
    MAX_TEXT_CHARS,
    PAIR_FIELDS,
)
from mlops.sidecar.simulator import simulate
from tests.support.service import Service, running_service

DOC = openapi_document()
CASE = [f.name for f in CASE_FIELDS]
ONE = json.loads(simulate(40, 13)[list(FEATURES)].to_json(orient="records"))
FLASK_ONLY = "application/json; charset=utf-8"  # the fast path takes exactly "application/json"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("openapi")) as svc:
        yield svc


def post(svc: Service, path: str, body: object, content_type: str = "application/json") -> requests.Response:
    return requests.post(
        svc.url + path, data=json.dumps(body), headers={"Content-Type": content_type}, timeout=10
    )


def conforms(body: object, schema_name: str) -> None:
    """Raise unless ``body`` fits the description's component ``schema_name`` (refs resolved in DOC)."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": DOC["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)


def rank_body(n: int = 3, **case_changes: object) -> dict:
    case = {k: ONE[0][k] for k in CASE} | case_changes
    lawyers = [{"lawyer_id": f"L{i}", **{k: v for k, v in ONE[i].items() if k not in CASE}} for i in range(n)]
    return {"case": case, "lawyers": lawyers}


def test_the_description_is_valid_openapi_31_and_served_as_committed(svc: Service) -> None:
    validate(DOC)  # raises on any breach of the OpenAPI 3.1 schema
    r = requests.get(svc.url + "/openapi.json", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json() == DOC == json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    assert DOC["openapi"] == "3.1.0"
    broken = copy.deepcopy(DOC)  # the validator has teeth: a JSON Schema type that does not exist
    broken["components"]["schemas"]["Instance"]["properties"]["case_complexity"]["type"] = "int"
    with pytest.raises(OpenAPIValidationError, match="'int' is not valid"):
        validate(broken)
    refs = set(_refs(DOC))  # the validator does not resolve references: every one must name a schema
    assert refs == {f"#/components/schemas/{name}" for name in DOC["components"]["schemas"]}


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_endpoint_and_every_field_is_described() -> None:
    assert set(DOC["paths"]) == {"/", "/docs", "/health", "/predict", "/rank", "/metrics", "/openapi.json"}
    schemas = DOC["components"]["schemas"]
    for name, fields, extra in (
        ("Instance", FEATURE_FIELDS, []),
        ("Case", CASE_FIELDS, []),
        ("RankLawyer", LAWYER_FIELDS + PAIR_FIELDS, ["lawyer_id"]),
    ):
        assert schemas[name]["required"] == extra + [f.name for f in fields], name
        for f in fields:
            prop = schemas[name]["properties"][f.name]
            if f.kind == "category":
                assert prop["type"] == "string" and prop["maxLength"] == MAX_TEXT_CHARS
                assert prop["x-known-values"] == list(f.vocab), f.name
            else:
                assert prop["type"] == ("integer" if f.kind == "int" else "number"), f.name
                assert (prop["minimum"], prop["maximum"]) == (f.min, f.max), f.name
    assert [s["type"] for s in schemas["LawyerId"]["oneOf"]] == ["string", "integer"]
    for response, results in (("PredictResponse", "predictions"), ("RankResponse", "ranking")):
        assert set(schemas[response]["required"]) == {
            "model_version",
            "prediction_id",
            results,
            "warnings",
            "warning_count",
        }
    ranked = schemas["RankResponse"]["properties"]["ranking"]["items"]
    assert set(ranked["required"]) == {"lawyer_id", "match_probability"}
    assert set(schemas["BadRequest"]["required"]) == {"error", "errors", "error_count"}
    assert set(schemas["Problem"]["required"]) == {"location", "index", "field", "message"}
    assert set(schemas["Warning"]["required"]) == {"location", "index", "field", "value", "message"}
    predict = DOC["paths"]["/predict"]["post"]["responses"]
    assert set(predict) == {"200", "400", "408", "413", "500"}  # 408: a body late past BODY_TIMEOUT_S


def test_real_answers_fit_the_description(svc: Service) -> None:
    conforms(requests.get(svc.url + "/health", timeout=5).json(), "Health")
    conforms(post(svc, "/predict", {"instances": ONE[:3]}).json(), "PredictResponse")
    conforms(post(svc, "/rank", rank_body(5, case_type="Family")).json(), "RankResponse")
    conforms(post(svc, "/predict", {"instances": [{}] * 3}).json(), "BadRequest")
    conforms(requests.get(svc.url + "/nowhere", timeout=5).json(), "Error")
    answer = {"model_version": "v1", "prediction_id": "0" * 32, "predictions": [0.5]}
    with pytest.raises(jsonschema.ValidationError):  # the check has teeth: an answer without warnings fails,
        conforms(answer, "PredictResponse")
    with pytest.raises(
        jsonschema.ValidationError, match="'debug' was unexpected"
    ):  # and so does an undescribed key
        conforms({**answer, "warnings": [], "warning_count": 0, "debug": 1}, "PredictResponse")


@pytest.mark.parametrize("content_type", ["application/json", FLASK_ONLY])
def test_a_bad_request_lists_every_problem_with_its_place(svc: Service, content_type: str) -> None:
    items = [dict(x) for x in ONE[:3]]
    items[0]["case_type"] = 7
    del items[0]["urgency"]
    items[2]["lawyer_rating"] = 9.5
    r = post(svc, "/predict", {"instances": items}, content_type)
    assert r.status_code == 400
    body = r.json()
    assert [(e["location"], e["index"], e["field"]) for e in body["errors"]] == [
        ("instances", 0, "case_type"),
        ("instances", 0, "urgency"),
        ("instances", 2, "lawyer_rating"),
    ]
    assert body["errors"][1]["message"] == "missing field 'urgency'"
    assert body["error_count"] == 3
    assert body["error"] == "; ".join(
        [
            "instances[0]: field 'case_type' must be a string, got 7",
            "instances[0]: missing field 'urgency'",
            "instances[2]: field 'lawyer_rating' must be a number in [1, 5], got 9.5",
        ]
    )


def test_many_problems_are_capped_and_counted(svc: Service) -> None:
    for n in (20, 40):  # 20 objects take the per-object check, 40 the column-wise one first
        items = [{**x, "distance_km": -1} for x in ONE[:n]]
        body = post(svc, "/predict", {"instances": items}).json()
        assert len(body["errors"]) == MAX_ERRORS and body["error_count"] == n
        assert [e["index"] for e in body["errors"]] == list(range(MAX_ERRORS))
        assert body["error"].startswith("instances[0]: field 'distance_km' must be a number in [0, 20000]")
        assert body["error"].endswith("more: see 'errors')") and len(body["error"]) < 400
    body = post(svc, "/predict", {"instances": [{}] * 1000}).json()  # 14 missing fields each
    assert body["error_count"] == 14 * 1000 and len(body["errors"]) == MAX_ERRORS


def test_rank_reports_the_case_and_every_lawyer_at_once(svc: Service) -> None:
    body = rank_body(4, urgency="x" * 100)
    body["lawyers"][1]["lawyer_id"] = ""
    del body["lawyers"][3]["distance_km"]
    body["lawyers"][2] = "not a lawyer"
    answer = post(svc, "/rank", body).json()
    assert [(e["location"], e["index"], e["field"]) for e in answer["errors"]] == [
        ("case", None, "urgency"),
        ("lawyers", 1, "lawyer_id"),
        ("lawyers", 2, None),
        ("lawyers", 3, "distance_km"),
    ]
    assert "x" * 41 not in answer["error"] and "(100 characters)" in answer["error"]
    shape = post(svc, "/rank", {"case": {}, "lawyers": 5}).json()
    assert (shape["errors"][0]["location"], shape["errors"][0]["field"]) == ("body", "lawyers")
    assert shape["error_count"] == 1 + len(CASE_FIELDS)  # the list, then every missing case field


def test_unknown_categories_are_scored_not_normalised_and_named(svc: Service) -> None:
    def score(case_type: str) -> dict:
        return post(svc, "/predict", {"instances": [{**ONE[0], "case_type": case_type}]}).json()

    known, cased, unknown = score("family"), score("Family"), score("maritime")
    assert known["warnings"] == [] and known["warning_count"] == 0
    assert cased["predictions"] == unknown["predictions"] != known["predictions"]  # "Family" is not "family"
    [warning] = cased["warnings"]
    place = (warning["location"], warning["index"], warning["field"], warning["value"])
    assert place == ("instances", 0, "case_type", "Family")
    assert "did you mean 'family'?" in warning["message"]
    assert "known: family, criminal" in unknown["warnings"][0]["message"]
    long = score("m" * MAX_TEXT_CHARS)["warnings"][0]["value"]
    assert long == "m" * 40 + "…"


def test_rank_warns_once_for_the_case_and_per_lawyer(svc: Service) -> None:
    body = rank_body(30, client_region="North")
    for i in (4, 7):
        body["lawyers"][i]["lawyer_language"] = "klingon"
    answer = post(svc, "/rank", body).json()
    places = [(w["location"], w["index"], w["field"]) for w in answer["warnings"]]
    assert places == [
        ("case", None, "client_region"),
        ("lawyers", 4, "lawyer_language"),
        ("lawyers", 7, "lawyer_language"),
    ]
    assert answer["warning_count"] == 3 and len(answer["ranking"]) == 30
    for lawyer in body["lawyers"]:
        lawyer["lawyer_region"] = "nowhere"
    answer = post(svc, "/rank", body).json()
    assert answer["warning_count"] == 1 + 30 + 2 and len(answer["warnings"]) == MAX_ERRORS


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", {"instances": [{**ONE[0], "urgency": "ASAP"}, ONE[1]]}),
        ("/rank", rank_body(20, case_type="Housing")),
        ("/predict", {"instances": [{**ONE[0], "lawyer_rating": 0}, {}]}),
        ("/rank", {**rank_body(2), "case": []}),
        ("/predict", [1]),
    ],
    ids=["predict-warnings", "rank-warnings", "predict-errors", "rank-errors", "not-an-object"],
)
def test_the_fast_path_and_the_flask_path_answer_alike(svc: Service, path: str, body: object) -> None:
    fast, flask = post(svc, path, body), post(svc, path, body, FLASK_ONLY)
    assert fast.status_code == flask.status_code
    a, b = fast.json(), flask.json()
    if fast.status_code == 200:
        assert a.pop("prediction_id") != b.pop("prediction_id")
        assert a["warnings"]
    assert a == b


def test_an_integral_float_lawyer_id_is_the_integer_and_405_says_what_is_allowed(svc: Service) -> None:
    body = rank_body(2)
    body["lawyers"][1]["lawyer_id"] = 7.0  # an integer to JSON Schema and JavaScript
    ids = [x["lawyer_id"] for x in post(svc, "/rank", body).json()["ranking"]]
    assert 7 in ids and all(type(i) in (int, str) for i in ids)
    r = requests.put(svc.url + "/predict", timeout=5)
    assert r.status_code == 405 and "POST" in r.headers["Allow"]


def _media_examples() -> Iterator[tuple[str, str, str, dict, dict]]:
    """(operation, "request" or a status, the example's name, the media type's schema, the
    example) for every example in the description."""
    for item in DOC["paths"].values():
        for op in item.values():
            bodies = [("request", op.get("requestBody", {})), *op["responses"].items()]
            for where, body in bodies:
                for media in body.get("content", {}).values():
                    for name, example in media.get("examples", {}).items():
                        yield op["operationId"], where, name, media["schema"], example


def test_every_number_has_typical_examples_a_client_would_send() -> None:
    numbers = [f for f in FEATURE_FIELDS if f.kind != "category"]
    assert {f.name for f in numbers} == set(TYPICAL)
    schemas = DOC["components"]["schemas"]
    for f in numbers:
        examples = schemas["Instance"]["properties"][f.name]["examples"]
        assert examples and all(f.min <= x <= f.max for x in examples), f.name
    incomes = schemas["Case"]["properties"]["client_income"]["examples"]
    distances = schemas["RankLawyer"]["properties"]["distance_km"]["examples"]
    assert all(15_000 <= x <= 80_000 for x in incomes) and all(0 <= x < 50 for x in distances)


def test_the_examples_are_realistic_and_fit_the_description() -> None:
    found = list(_media_examples())
    places = {(op, where) for op, where, _, _, _ in found}
    for op in ("predict", "rank"):  # a request, its answer and its refusal for both scoring calls
        assert {(op, "request"), (op, "200"), (op, "400"), (op, "408"), (op, "413"), (op, "500")} <= places
    assert ("health", "200") in places
    sent = []
    for _, where, _name, schema, example in found:
        resolved = {**schema, "components": DOC["components"]}
        jsonschema.Draft202012Validator(resolved).validate(example["value"])  # raises on a misfit
        assert example["summary"]
        if where == "request":
            sent.append(example["value"])
    pairs = [x for body in sent for x in body.get("instances", [])]
    pairs += [{**body["case"], **lawyer} for body in sent if "case" in body for lawyer in body["lawyers"]]
    assert len(pairs) >= 5
    for pair in pairs:
        assert 15_000 <= pair["client_income"] <= 80_000 and 0 <= pair["distance_km"] < 50, pair
    broken = copy.deepcopy(DOC["paths"]["/rank"]["post"]["requestBody"]["content"]["application/json"])
    broken["examples"]["three_lawyers"]["value"]["case"]["client_income"] = 10_000_001
    with pytest.raises(jsonschema.ValidationError):  # the check has teeth
        jsonschema.Draft202012Validator({**broken["schema"], "components": DOC["components"]}).validate(
            broken["examples"]["three_lawyers"]["value"]
        )


@pytest.mark.parametrize("path", ["/predict", "/rank"])
def test_the_service_answers_each_request_example_as_its_examples_show(svc: Service, path: str) -> None:
    """A named request example gets the 200 example of the same name (its warnings and lawyers;
    the scores are the model's of the day); the wrong request behind the 400 example gets it word
    for word."""
    op = DOC["paths"][path]["post"]
    answers = {
        name: (int(status), example["value"])
        for status, response in op["responses"].items()
        for name, example in response["content"]["application/json"].get("examples", {}).items()
    }
    for name, example in op["requestBody"]["content"]["application/json"]["examples"].items():
        status, shown = answers[name]
        r = post(svc, path, example["value"])
        assert r.status_code == status == 200, (name, r.text)
        body = r.json()
        assert body["warnings"] == shown["warnings"] and body["warning_count"] == shown["warning_count"]
        results = "ranking" if path == "/rank" else "predictions"
        assert len(body[results]) == len(shown[results])
        if path == "/rank":
            assert {x["lawyer_id"] for x in body["ranking"]} == {x["lawyer_id"] for x in shown["ranking"]}
    r = post(svc, path, refused_requests()[op["operationId"]])
    assert r.status_code == 400 and r.json() == answers["refused"][1]


class _Links(html.parser.HTMLParser):
    """Every URL a page's tags would load or link (src, href, action, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in {"src", "href", "action", "srcset", "data", "poster"} and v]


def _other_hosts(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>)]+", text)


def test_the_index_links_everything_a_developer_needs(svc: Service) -> None:
    r = requests.get(svc.url + "/", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert "Accept" in r.headers["Vary"]
    body = r.json()
    conforms(body, "Index")
    assert body["links"] == {
        "docs": "/docs",
        "openapi": "/openapi.json",
        "health": "/health",
        "metrics": "/metrics",
    }
    assert {(e["method"], e["path"]) for e in body["endpoints"]} >= {("POST", "/predict"), ("POST", "/rank")}
    for link in body["links"].values():
        assert requests.get(svc.url + link, timeout=10).status_code == 200, link
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    page = requests.get(svc.url + "/", headers=browser, timeout=5)
    assert page.headers["Content-Type"].startswith("text/html")
    links = _Links()
    links.feed(page.text)
    assert set(links.urls) == {"/docs", "/openapi.json", "/health", "/metrics"}
    assert "script-src 'none'" in page.headers["Content-Security-Policy"]


def test_docs_is_one_page_that_names_no_other_host(svc: Service) -> None:
    r = requests.get(svc.url + "/docs", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    page = r.text
    csp = r.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; script-src 'sha256-") and "connect-src 'self'" in csp
    assert "unsafe-eval" not in csp and not _other_hosts(csp)
    # Nothing in the page's markup loads or links anything but the service's own paths.
    links = _Links()
    links.feed(page)
    assert links.urls and all(u.startswith("/") and not u.startswith("//") for u in links.urls), links.urls
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    # Swagger UI's script and stylesheet are inlined as vendored; around them (the page itself, the
    # description, the start-up script) no http(s) URL at all.
    bundle = (DOCS_ASSETS / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    css = (DOCS_ASSETS / "swagger-ui.css").read_text(encoding="utf-8").split("/*# sourceMappingURL=")[0]
    assert bundle in page and css in page
    assert _other_hosts(page.replace(bundle, "").replace(css, "")) == []
    # The stylesheet's url()s are data: URIs (pictures drawn inline), none fetched.
    assert all(u.strip("'\"").startswith("data:") for u in re.findall(r"url\(([^)]*)\)", css))
    # The description in the page is the one served, with the page's own origin as its server.
    spec = json.loads(
        re.search(r'<script id="openapi" type="application/json">(.*?)</script>', page, re.S)[1]
    )
    assert spec == {**DOC, "servers": [{"url": "/", "description": "The service that served this page."}]}


def test_the_vendored_swagger_ui_is_the_pinned_package_unchanged(tmp_path: Path) -> None:
    tool = REPO_ROOT / "tools" / "swagger-ui"
    pin = json.loads((tool / "package.json").read_text())["dependencies"]["swagger-ui-dist"]
    lock = json.loads((tool / "package-lock.json").read_text())["packages"]["node_modules/swagger-ui-dist"]
    sums = (DOCS_ASSETS / "SHA256SUMS").read_text().splitlines()
    assert (
        lock["version"] == pin
        and sums[0] == f"# swagger-ui-dist {pin} from npm, copied unchanged by tools/swagger-ui/vendor.sh"
    )
    listed = dict(reversed(line.split("  ")) for line in sums[1:])
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"} <= set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((DOCS_ASSETS / name).read_bytes()).hexdigest() == digest, name
    installed = tool / "node_modules" / "swagger-ui-dist"
    if installed.is_dir():  # after `tools/swagger-ui/vendor.sh`: the copy is the installed package's
        for name in listed:
            assert (installed / name).read_bytes() == (DOCS_ASSETS / name).read_bytes(), name
    # Missing or unsafe files are refused by name, never served half-built.
    with pytest.raises(FileNotFoundError, match=r"swagger-ui-bundle\.js"):
        docs_page(DOC, tmp_path)
    (tmp_path / "swagger-ui-bundle.js").write_text('var x = "</script><script>alert(1)";')
    (tmp_path / "swagger-ui.css").write_text("body{}")
    with pytest.raises(ValueError, match="cannot be inlined"):
        docs_page(DOC, tmp_path)


def test_docs_answers_503_naming_the_problem_when_its_files_are_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(document: dict, assets: Path = tmp_path) -> None:
        return docs_page(document, assets)

    monkeypatch.setattr(service_app, "docs_page", missing)
    app = service_app.create_app(prediction_log=tmp_path / "predictions.jsonl")
    client = app.test_client()
    r = client.get("/docs")
    assert r.status_code == 503 and "files are missing" in r.get_json()["error"]
    assert client.get("/health").status_code == 200  # the service itself still serves


def schemathesis_run(svc: Service, folder: Path, schema: str, *args: str) -> subprocess.CompletedProcess:
    """``st run`` against the live service, bounded: fixed seed, no example database, in ``folder``
    (schemathesis writes .hypothesis/ and .schemathesis/ into its working folder)."""
    config = folder / "schemathesis.toml"
    # A body over 1 MiB is a 413 whatever the schema says (JSON Schema cannot bound bytes): at
    # maxItems (10,000 instances) it is.
    config.write_text(
        '[checks.negative_data_rejection]\nexpected-statuses = ["400", "413"]\n'
        '[checks.positive_data_acceptance]\nexpected-statuses = ["200", "413"]\n'
    )
    st = Path(sys.executable).parent / "st"
    options = ["--url", svc.url, "--checks", "all", "--seed", "20261127", "--generation-database", "none"]
    options += ["--workers", "1", "--no-color", "--request-timeout", "10", *args]
    cmd = [str(st), "--config-file", str(config), "run", schema, *options]
    return subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_schemathesis_finds_no_5xx_and_no_breach_of_the_description(svc: Service, tmp_path: Path) -> None:
    """Every phase (examples, boundaries, positive and negative fuzzing) over every operation:
    no 5xx, every answer's status, content type and body as described, valid data accepted,
    invalid data refused. About 25 s here."""
    r = schemathesis_run(svc, tmp_path, svc.url + "/openapi.json", "--max-examples", "150")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "Fuzzing" in r.stdout and " passed" in r.stdout


def test_schemathesis_catches_a_description_that_promises_too_much(svc: Service, tmp_path: Path) -> None:
    """The fuzz test can fail: a description that allows case_complexity 6 (the service refuses
    it) is caught by the boundary phase in a few seconds."""
    lying = copy.deepcopy(DOC)
    lying["components"]["schemas"]["Instance"]["properties"]["case_complexity"]["maximum"] = 6
    (tmp_path / "lying.json").write_text(json.dumps(lying))
    r = schemathesis_run(
        svc,
        tmp_path,
        str(tmp_path / "lying.json"),
        "--phases",
        "coverage",
        "--include-path",
        "/predict",
        "--max-examples",
        "20",
    )
    assert r.returncode != 0 and "Schema-valid request rejected" in r.stdout, r.stdout[-3000:]
