"""The page's privacy statement (src/i18n/<lang>.json, src/privacy.json) against what the code keeps.

The statement is a promise to people in legal trouble, so it must follow the code: these tests fail
when a retention period differs from mlops/params.yaml (what ``scripts/privacy.py expire``
enforces), when the prediction log or the backend's database keeps a field that the statement does
not name in every language, when a table or a log key appears that nobody has placed in the
statement, or when the form starts asking for something the statement says it does not ask for.
"""

from __future__ import annotations

import json
import re
import sqlite3
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml

from ml_model.paths import REPO_ROOT
from ml_model.prediction_log import LogEntry, format_line
from ml_model.schema import CASE_FIELDS, FEATURES

SRC = REPO_ROOT / "src"
LANGUAGES = ("en", "es", "fr", "ar", "vi", "zh")

# Which text of the statement quotes which retention period ({name} is filled from privacy.json).
QUOTES: dict[str, set[str]] = {
    "privacy_notice.text": {"prediction_log_days", "data_versions_days"},
    "privacy.log.retention": {"prediction_log_days"},
    "privacy.db.retention": {"unlabelled_matches_days", "labelled_matches_days"},
    "privacy.training.text": {"data_versions_days", "outcome_exports_days"},
    "privacy.not_kept.reports": {"monitor_reports_days"},
    "privacy.erase.limits": {"data_versions_days"},
}
# Not a store's limit: how long an outcome may take to arrive (the page does not quote it).
NOT_A_STORE = {"labelling_window_days"}

# What the prediction log keeps (one line per search, ml_model/prediction_log.py): each key of a
# line, and each feature, named by a concept, in the statement's text that must name it.
LOG_KEYS = {
    "time": ("privacy.log.meta", "time"),
    "model_version": ("privacy.log.meta", "model_version"),
    "prediction_id": ("privacy.log.meta", "reference"),
    "match_probability": ("privacy.log.lawyers", "score"),
    "lawyer_id": ("privacy.log.lawyers", "lawyer"),
}
FEATURE_CONCEPTS = {
    "case_type": "case_type",
    "case_complexity": "complexity",
    "urgency": "urgency",
    "client_language": "language",
    "client_region": "region",
    "client_income": "income",
    "lawyer_specialization": "specialization",
    "lawyer_language": "language",
    "lawyer_region": "region",
    "lawyer_experience_years": "experience",
    "lawyer_rating": "rating",
    "lawyer_active_cases": "open_cases",
    "lawyer_hourly_rate": "rate",
    "distance_km": "distance",
}
CLIENT_FIELDS = {f.name for f in CASE_FIELDS}  # the client's answers; the rest describe lawyers

# The backend's database (backend/migrations/*.sql): each table holding clients' matches, the text
# naming it, and each column's concept (None: only the key joining it to its match or pair).
CLIENT_TABLES: dict[str, tuple[str, dict[str, str | None]]] = {
    "matches": (
        "privacy.db.match",
        {"match_id": "reference", "created_at": "time", "model_version": "model_version"},
    ),
    "match_lawyers": (
        "privacy.db.shown",
        {"match_id": None, "lawyer_id": "lawyer", "rank": "order", "match_probability": "score"},
    ),
    "outcomes": (
        "privacy.db.outcome",
        {
            "match_id": None,
            "lawyer_id": "lawyer",
            "outcome": "outcome",
            "label": "outcome",  # the outcome as 0/1
            "occurred_at": "date",
            "recorded_at": "date",
            "note": "note",
        },
    ),
    "outcome_history": (
        "privacy.db.outcome",
        {
            "id": None,
            "match_id": None,
            "lawyer_id": "lawyer",
            "outcome": "outcome",
            "label": "outcome",
            "occurred_at": "date",
            "recorded_at": "date",
            "note": "note",
            "replaced_at": "correction",
        },
    ),
}
# The lawyer directory: about lawyers, not clients.
DIRECTORY_TABLES = {"lawyers", "lawyer_languages", "directory_version"}

# How each language says each concept: every listed word must appear in the text that names it.
WORDS: dict[str, dict[str, list[str]]] = {
    "case_type": {
        "en": ["type of case"],
        "es": ["tipo de caso"],
        "fr": ["type d’affaire"],
        "ar": ["نوع القضية"],
        "vi": ["loại vụ việc"],
        "zh": ["案件类型"],
    },
    "complexity": {
        "en": ["complex"],
        "es": ["complejo"],
        "fr": ["complexité"],
        "ar": ["تعقيد"],
        "vi": ["phức tạp"],
        "zh": ["复杂"],
    },
    "urgency": {
        "en": ["urgent"],
        "es": ["urgente"],
        "fr": ["urgence"],
        "ar": ["استعجال"],
        "vi": ["gấp"],
        "zh": ["紧急"],
    },
    "language": {
        "en": ["language"],
        "es": ["idioma"],
        "fr": ["langue"],
        "ar": ["لغ"],
        "vi": ["ngôn ngữ"],
        "zh": ["语言"],
    },
    "region": {
        "en": ["region"],
        "es": ["región"],
        "fr": ["région"],
        "ar": ["منطق"],
        "vi": ["khu vực"],
        "zh": ["地区"],
    },
    "income": {
        "en": ["income"],
        "es": ["ingresos"],
        "fr": ["revenu"],
        "ar": ["دخل"],
        "vi": ["thu nhập"],
        "zh": ["收入"],
    },
    "specialization": {
        "en": ["specialization"],
        "es": ["especialidad"],
        "fr": ["spécialité"],
        "ar": ["تخصص"],
        "vi": ["chuyên môn"],
        "zh": ["专业领域"],
    },
    "experience": {
        "en": ["experience"],
        "es": ["experiencia"],
        "fr": ["expérience"],
        "ar": ["خبرت"],
        "vi": ["kinh nghiệm"],
        "zh": ["执业年限"],
    },
    "rating": {
        "en": ["rating"],
        "es": ["calificación"],
        "fr": ["note"],
        "ar": ["تقييم"],
        "vi": ["đánh giá"],
        "zh": ["评分"],
    },
    "open_cases": {
        "en": ["open cases"],
        "es": ["casos abiertos"],
        "fr": ["dossiers en cours"],
        "ar": ["المفتوحة"],
        "vi": ["đang xử lý"],
        "zh": ["正在处理的案件"],
    },
    "rate": {
        "en": [" rate"],
        "es": ["tarifa"],
        "fr": ["tarif"],
        "ar": ["أتعاب"],
        "vi": ["mức phí"],
        "zh": ["收费"],
    },
    "distance": {
        "en": ["distance"],
        "es": ["distancia"],
        "fr": ["distance"],
        "ar": ["المسافة"],
        "vi": ["khoảng cách"],
        "zh": ["距离"],
    },
    "score": {
        "en": ["match score"],
        "es": ["coincidencia"],
        "fr": ["score de correspondance"],
        "ar": ["توافق"],
        "vi": ["phù hợp"],
        "zh": ["匹配度"],
    },
    "lawyer": {
        "en": ["lawyer"],
        "es": ["abogado"],
        "fr": ["avocat"],
        "ar": ["محام"],
        "vi": ["luật sư"],
        "zh": ["律师"],
    },
    "time": {
        "en": ["time"],
        "es": ["hora"],
        "fr": ["heure"],
        "ar": ["وقت"],
        "vi": ["thời điểm"],
        "zh": ["时间"],
    },
    "model_version": {
        "en": ["version of the matching model"],
        "es": ["versión del modelo"],
        "fr": ["version du modèle"],
        "ar": ["إصدار نموذج"],
        "vi": ["phiên bản của mô hình"],
        "zh": ["模型的版本"],
    },
    "reference": {
        "en": ["reference"],
        "es": ["referencia"],
        "fr": ["référence"],
        "ar": ["مرجعي"],
        "vi": ["mã tham chiếu"],
        "zh": ["参考编号"],
    },
    "order": {
        "en": ["order"],
        "es": ["orden"],
        "fr": ["ordre"],
        "ar": ["بترتيب"],
        "vi": ["thứ tự"],
        "zh": ["顺序"],
    },
    "outcome": {  # the three outcomes a caseworker records: engaged, declined, no_response
        "en": ["took your case", "declined", "did not answer"],
        "es": ["aceptó", "rechazó", "no respondió"],
        "fr": ["a pris", "refusée", "n’a pas répondu"],
        "ar": ["قبِل", "رفضها", "لم يردّ"],
        "vi": ["đã nhận", "từ chối", "không trả lời"],
        "zh": ["接受", "拒绝", "没有回复"],
    },
    "date": {
        "en": ["date"],
        "es": ["fecha"],
        "fr": ["date"],
        "ar": ["التاريخ"],
        "vi": ["ngày"],
        "zh": ["日期"],
    },
    "note": {
        "en": ["note"],
        "es": ["nota"],
        "fr": ["note"],
        "ar": ["ملاحظة"],
        "vi": ["ghi chú"],
        "zh": ["备注"],
    },
    "correction": {
        "en": ["correction"],
        "es": ["corrección"],
        "fr": ["correction"],
        "ar": ["تصحيح"],
        "vi": ["sửa"],
        "zh": ["更正"],
    },
}

# What the form asks (src/index.html): the statement says it asks for no name, contact details or
# free text (a region from a list, not a location; distances are from the region's centre).
# (The urgency radio buttons are made by app.js from the contract.)
FORM_FIELDS = {
    "case_type",
    "case_complexity",
    "client_language",
    "client_region",
    "client_income",
}


@cache
def texts(lang: str) -> dict[str, str]:
    """One language's dictionary."""
    return json.loads((SRC / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


@cache
def settings() -> dict:
    """src/privacy.json: what the page quotes."""
    return json.loads((SRC / "privacy.json").read_text(encoding="utf-8"))


def placeholders(text: str) -> set[str]:
    """The {name}s of a text."""
    return set(re.findall(r"\{(\w+)\}", text))


def statement_words(lang: str, key: str, concept: str) -> list[str]:
    """The words of concept that the text `key` of `lang` lacks."""
    text = texts(lang)[key].casefold()
    return [w for w in WORDS[concept][lang] if w.casefold() not in text]


def logged_line() -> dict:
    """A prediction-log line as the service writes it for a /rank request of two lawyers."""
    cols = {name: np.array([1.0, 2.0]) for name in FEATURES}
    entry = LogEntry("v1", 0.0, cols, [0.5, 0.25], "0" * 32, lawyer_ids=["1", "2"])
    return json.loads(format_line(entry))


def database_columns() -> dict[str, set[str]]:
    """Every table the migrations create, with its columns (applied to an in-memory SQLite)."""
    db = sqlite3.connect(":memory:")
    try:
        for sql in sorted((REPO_ROOT / "backend" / "migrations").glob("*.sql")):
            db.executescript(sql.read_text(encoding="utf-8"))
        tables = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in tables}
    finally:
        db.close()


def test_retention_periods_are_params_yaml_s() -> None:
    retention = yaml.safe_load((REPO_ROOT / "mlops" / "params.yaml").read_text(encoding="utf-8"))["retention"]
    assert settings()["retention"] == retention, (
        "src/privacy.json 'retention' differs from mlops/params.yaml 'retention': the page would quote "
        "periods that `scripts/privacy.py expire` does not enforce; copy params.yaml's values"
    )
    assert all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in retention.values())


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_store_limit_is_quoted_in_every_language(lang: str) -> None:
    stores = set(settings()["retention"]) - NOT_A_STORE
    quoted = set().union(*QUOTES.values())
    assert quoted == stores, f"store limits the statement does not quote: {sorted(stores - quoted)}"
    for key, names in QUOTES.items():
        assert names <= placeholders(texts(lang)[key]), f"{lang} {key} must quote {sorted(names)}"
    for key in ("privacy.erase.text", "reference.erase"):
        assert "contact" in placeholders(texts(lang)[key]), f"{lang} {key}: where to send the reference"


def test_the_contact_is_an_address_a_client_can_use() -> None:
    contact = settings()["contact"]
    assert re.fullmatch(r"[^\s@<>\"'?&%]+@[^\s@<>\"'?&%]+\.[^\s@<>\"'?&%]+|https://\S+", contact), contact


def test_every_prediction_log_key_and_feature_is_classified() -> None:
    line = logged_line()
    assert set(line) - {"features"} == set(LOG_KEYS), (
        "a new key in the prediction log: name it in the statement"
    )
    assert set(line["features"]) == set(FEATURE_CONCEPTS), (
        "a new feature in the log: name it in the statement"
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_statement_names_everything_the_prediction_log_keeps(lang: str) -> None:
    missing = {}
    for key, (text_key, concept) in LOG_KEYS.items():
        if lacking := statement_words(lang, text_key, concept):
            missing[key] = (text_key, lacking)
    for feature, concept in FEATURE_CONCEPTS.items():
        text_key = "privacy.log.answers" if feature in CLIENT_FIELDS else "privacy.log.lawyers"
        if lacking := statement_words(lang, text_key, concept):
            missing[feature] = (text_key, lacking)
    # A location is never logged, but the distances from it are, and they could give it away.
    if lacking := statement_words(lang, "privacy.not_kept.location", "distance"):
        missing["distance_km (location)"] = ("privacy.not_kept.location", lacking)
    assert missing == {}, f"{lang}: the prediction log keeps these, the statement does not name them"


def test_every_database_table_and_column_is_classified() -> None:
    columns = database_columns()
    assert set(columns) == set(CLIENT_TABLES) | DIRECTORY_TABLES, (
        "a table was added or removed: place it in the statement (CLIENT_TABLES) or the directory"
    )
    for table, (_, concepts) in CLIENT_TABLES.items():
        assert columns[table] == set(concepts), (
            f"{table}: columns changed; name the new ones in the statement"
        )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_statement_names_every_column_group_of_the_database(lang: str) -> None:
    missing = {}
    for table, (text_key, concepts) in CLIENT_TABLES.items():
        for column, concept in concepts.items():
            if concept and (lacking := statement_words(lang, text_key, concept)):
                missing[f"{table}.{column}"] = (text_key, lacking)
    assert missing == {}, f"{lang}: the database keeps these, the statement does not name them"


class _FormFields(HTMLParser):
    """The names and kinds of the controls of <form id="case-form">."""

    def __init__(self) -> None:
        super().__init__()
        self.in_form = False
        self.controls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.in_form = a.get("id") == "case-form"
        elif self.in_form and tag in ("input", "select", "textarea"):
            self.controls.append((tag, a.get("type") or "", a.get("name") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False


def test_the_form_asks_for_no_name_contact_or_free_text() -> None:
    parser = _FormFields()
    parser.feed(Path(SRC / "index.html").read_text(encoding="utf-8"))
    assert {name for _, _, name in parser.controls} == FORM_FIELDS, (
        "the form's fields changed: say in the privacy statement what happens to the new one"
    )
    free_text = [
        c
        for c in parser.controls
        if c[0] == "textarea" or (c[0] == "input" and c[1] not in ("number", "radio"))
    ]
    assert free_text == [], "the statement says the form takes no free text, name or contact details"
    # The only inputs app.js makes are the urgency radio buttons.
    script = (SRC / "app.js").read_text(encoding="utf-8")
    assert script.count("createElement('input')") == 1
    assert "input.type = 'radio';" in script and "input.name = 'urgency';" in script


@pytest.mark.parametrize("lang", LANGUAGES)
def test_nothing_says_that_nothing_is_kept(lang: str) -> None:
    # The sentences the page used to show, before it told the truth.
    old = {
        "en": "Nothing you enter is stored",
        "es": "No guardamos nada de lo que escriba",
        "fr": "Rien de ce que vous saisissez n’est conservé",
        "ar": "لا نحفظ أي شيء تكتبه",
        "vi": "Chúng tôi không lưu bất cứ thông tin nào bạn nhập",
        "zh": "您填写的内容不会被保存",
    }[lang]
    assert [k for k, v in texts(lang).items() if old in v] == []
