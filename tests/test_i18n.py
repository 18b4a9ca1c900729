"""The person's language: every catalogue covers every message id, every text the product
renders has one, and the API answers in the language of Accept-Language or the stored choice
(with RTL and locale formats in the layout), over HTTP on a real PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from privacy.i18n import (
    TRANSLATED,
    Language,
    catalogues,
    fill,
    format_day_month,
    formats,
    localize,
    message_ids,
    negotiate,
    placeholders,
)
from privacy.i18n import read_catalogue as catalogue
from privacy.principal import Role
from privacy.profile_fields import FIELDS
from privacy.purposes import PURPOSES
from privacy.retention import DEFAULT_RETENTION
from resolvers.model.attributes import ATTRIBUTES
from tests import world
from tests.conftest import gql
from tests.test_layout import layout_get, layout_of, make_power

USER, NEWBIE = 21, 22
PERSIAN = re.compile(r"[\u0600-\u06ff]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
SCRIPT = {Language.FA: PERSIAN, Language.AR: PERSIAN, Language.RU: CYRILLIC}

WHY = "summary matchedCriteria reasons { text } controls { label }"
VIEWER = f"""{{ viewer {{
  tags {{ experienceWhy {{ {WHY} }} priceTierWhy {{ {WHY} }} }}
  feed(surface: HOME, limit: 8) {{ why {{ {WHY} }} }}
  offers(surface: HOME) {{ why {{ {WHY} }} }}
  consent {{ title reason notice {{ uses why benefit text retention }} }}
  profilePrompts(stage: PERSONALIZATION) {{ why benefit }}
}} }}"""
SET_LANGUAGE = "mutation($l: Language) { setLanguage(language: $l) { language effective { direction } } }"
BAD_PROFILE = """mutation { updateProfile(stage: SIGNUP, fields: [{field: "phone", value: "12"}]) {
  ... on InvalidInput { message errors { field message } } } }"""


# --- catalogues ---


def test_every_catalogue_covers_every_message_id() -> None:
    ids = message_ids()
    assert len(ids) == len(set(ids)) > 100
    for language in TRANSLATED:
        translations = catalogue(language)
        missing = [i for i in ids if i not in translations]
        assert not missing, f"{language}.po misses {missing[:5]}"
        assert set(translations) == set(ids), f"{language}.po has ids the template does not"
        for msgid, text in translations.items():
            assert placeholders(text) == placeholders(msgid), (language, msgid)
            assert text != msgid, (language, msgid)
            assert SCRIPT[language].search(text), (language, msgid)  # written in the language


def test_a_missing_key_is_caught(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # the check above reads the committed files; the same check on a copy without one entry fails
    import privacy.i18n as i18n

    source = (i18n.HERE / "locales" / "fa.po").read_text(encoding="utf-8")
    first = source.index('msgid "Goes with')
    cut = source[:first] + source[source.index("\n\n", first) + 2 :]
    (tmp_path / "locales").mkdir()
    (tmp_path / "locales" / "fa.po").write_text(cut, encoding="utf-8")
    (tmp_path / "messages.pot").write_text((i18n.HERE / "messages.pot").read_text(encoding="utf-8"))
    monkeypatch.setattr(i18n, "HERE", tmp_path)
    assert "Goes with the {name} you bought" not in i18n.read_catalogue(Language.FA)
    assert "Goes with the {name} you bought" in i18n.message_ids()


def test_static_texts_all_have_message_ids() -> None:
    texts: list[str] = []
    for p in PURPOSES.values():
        texts += [p.title, p.uses, p.why, p.benefit, p.notice_text]
    for f in FIELDS.values():
        texts += [f.why, f.benefit]
    unmatched = [t for t in texts if catalogues().match(t) is None]
    assert not unmatched
    sentence = DEFAULT_RETENTION.sentence(PURPOSES["personalize.content"].keeps, Language.RU)
    assert CYRILLIC.search(sentence) and "180" in sentence and "your" not in sentence


def test_templates_put_values_back_untranslated_and_nest() -> None:
    c = catalogues()
    assert c.translate("Matches your search “winter coat”", Language.RU) == (
        "Соответствует вашему запросу «winter coat»"
    )
    nested = c.translate(
        "Default setting, not based on your activity (no consent for personalize.profiling)", Language.FA
    )
    assert "personalize.profiling" in nested and "no consent" not in nested and PERSIAN.search(nested)
    assert c.translate("something nobody wrote", Language.AR) == "something nobody wrote"
    # a value that looks like a placeholder is inserted literally, never formatted
    assert "{days}" in c.translate("Goes with the {days} you bought", Language.RU)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fa", Language.FA),
        ("fa-IR,fa;q=0.9,en;q=0.5", Language.FA),
        ("de-DE, ru;q=0.8, ar;q=0.9", Language.AR),
        ("en-US,en;q=0.9", Language.EN),
        ("*", None),
        ("de", None),
        ("ru;q=0, fa;q=abc, ar;level=1", None),
        ("x" * 600 + ",fa", None),
        ("", None),
        (None, None),
    ],
)
def test_accept_language_negotiation(header: str | None, expected: Language | None) -> None:
    assert negotiate(header) is expected


def test_locale_formats() -> None:
    fa, ar, ru, en = (formats(x) for x in (Language.FA, Language.AR, Language.RU, Language.EN))
    assert fa.rtl and ar.rtl and not ru.rtl and not en.rtl
    assert fa.digits[1] == "\u06f1" and fa.number_example.startswith("\u06f1")
    assert ru.decimal_symbol == "," and en.group_symbol == ","


# --- over HTTP ---


@pytest.fixture
async def db(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await world.connect(db_dsn)
    await world.add_items(conn)
    await world.add_user(conn, USER, member_days=60)
    await world.add_user(conn, NEWBIE, member_days=2)
    try:
        yield conn
    finally:
        await conn.close()


def _whys(data: Any) -> list[str]:
    """Every rendered text of a viewer answer, in order."""
    out: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("summary", "text", "label", "title", "reason", "uses", "why", "benefit", "retention"):
                if isinstance(value, str):
                    out.append(value)
            elif key == "matchedCriteria":
                out += value
            else:
                out += _whys(value)
    elif isinstance(data, list):
        for value in data:
            out += _whys(value)
    return out


async def test_every_rendered_text_has_a_message_id_and_is_translated(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    tok = token(Role.USER, USER)
    await make_power(client, tok, USER)
    english = await gql(client, VIEWER, token=tok)
    assert "errors" not in english, english
    texts = _whys(english["data"])
    assert len(texts) > 30
    unmatched = sorted({t for t in texts if catalogues().match(t) is None})
    assert not unmatched, unmatched
    for language in TRANSLATED:
        body = await gql(client, VIEWER, token=tok, headers={"Accept-Language": language.value})
        assert "errors" not in body, body
        local = _whys(body["data"])
        assert len(local) == len(texts)
        # every text changed into the language's script (values such as item names stay)
        untranslated = [t for t in local if not SCRIPT[language].search(t)]
        assert not untranslated, untranslated
    # the decision log keeps English; explanations read back from it are rendered in the language
    logged = "{ viewer { explanations(limit: 20) { summary reasons { text } controls { label } } } }"
    body = await gql(client, logged, token=tok, headers={"Accept-Language": "ru"})
    texts = _whys(body["data"]["viewer"]["explanations"])
    assert texts and all(CYRILLIC.search(t) for t in texts), texts
    stored = await db.fetchval("SELECT record->>'summary' FROM decisions WHERE user_id = $1 LIMIT 1", USER)
    assert stored and not CYRILLIC.search(stored)


async def test_layout_is_rtl_in_farsi_and_arabic_with_a_new_etag(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    tok = token(Role.USER, NEWBIE)
    first = await layout_get(client, tok)
    layout = layout_of(first)
    assert layout["direction"] == "LTR" and layout["locale"]["language"] == "EN"
    assert "Accept-Language" in first.headers["vary"]
    client.headers["Accept-Language"] = "fa"
    try:
        farsi = await layout_get(client, tok, etag=first.headers["etag"])
    finally:
        del client.headers["Accept-Language"]
    fa = layout_of(farsi)
    assert farsi.headers["etag"] != first.headers["etag"]
    assert fa["direction"] == "RTL" and fa["locale"]["numberingSystem"] == "arabext"
    assert all(PERSIAN.search(s["why"]["summary"]) for s in fa["sections"])
    assert all(PERSIAN.search(c["label"]) for s in fa["sections"] for c in s["why"]["controls"])


async def test_stored_choice_wins_is_exported_and_clears(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    tok = token(Role.USER, NEWBIE)
    before = await layout_get(client, tok)
    body = await gql(client, SET_LANGUAGE, {"l": "AR"}, token=tok)
    assert body["data"]["setLanguage"] == {"language": "AR", "effective": {"direction": "RTL"}}
    after = await layout_get(client, tok, etag=before.headers["etag"])
    assert after.status_code == 200 and layout_of(after)["direction"] == "RTL"  # a new ETag
    # the stored choice wins over the header, errors included
    ru = {"Accept-Language": "ru"}
    errors = (await gql(client, BAD_PROFILE, token=tok, headers=ru))["data"]["updateProfile"]
    assert PERSIAN.search(errors["message"]) and PERSIAN.search(errors["errors"][0]["message"])
    assert "+4915112345678" in errors["errors"][0]["message"]
    export = await gql(client, "mutation { requestDataExport { data } }", token=tok)
    assert export["data"]["requestDataExport"]["data"]["account"]["language"] == "ar"
    # cleared: Accept-Language decides again
    body = await gql(client, SET_LANGUAGE, {"l": None}, token=tok, headers=ru)
    assert body["data"]["setLanguage"] == {"language": None, "effective": {"direction": "LTR"}}
    errors = (await gql(client, BAD_PROFILE, token=tok, headers=ru))["data"]["updateProfile"]
    assert CYRILLIC.search(errors["message"])
    assert (await db.fetchval("SELECT language FROM users WHERE user_id = $1", NEWBIE)) is None


async def test_domain_errors_are_in_the_request_language(client: httpx.AsyncClient, db: Any) -> None:
    query = "mutation { requestDataExport { format } }"  # needs a signed-in user
    english = await gql(client, query, headers={"Accept-Language": "de"})
    farsi = await gql(client, query, headers={"Accept-Language": "fa"})
    assert english["errors"][0]["extensions"]["code"] == farsi["errors"][0]["extensions"]["code"]
    assert not PERSIAN.search(english["errors"][0]["message"])
    assert PERSIAN.search(farsi["errors"][0]["message"]), farsi


async def test_anonymous_notices_follow_accept_language(client: httpx.AsyncClient, db: Any) -> None:
    query = "{ purposes { key title notice { text retention } } }"
    english = (await gql(client, query))["data"]["purposes"]
    arabic = (await gql(client, query, headers={"Accept-Language": "ar-SA"}))["data"]["purposes"]
    assert [p["key"] for p in arabic] == [p["key"] for p in english]
    for p in arabic:
        assert PERSIAN.search(p["title"]) and PERSIAN.search(p["notice"]["text"])
        assert PERSIAN.search(p["notice"]["retention"])


# --- the texts of customization, key dates, the propensity model, experiments, layout rules ---


def test_texts_of_the_later_features_all_have_message_ids() -> None:
    from resolvers.common.texts import TEXTS
    from resolvers.layout.rules import RULE_CRITERIA, RULE_TEXT_OTHER, RULE_TEXTS
    from resolvers.model import propensity

    texts = [*TEXTS.values(), *RULE_TEXTS.values(), RULE_TEXT_OTHER]
    texts += [t for by_value in RULE_CRITERIA.values() for t in by_value.values()]
    texts += [*propensity.SUMMARY.values(), *propensity.CITED.values(), propensity.NO_REASON]
    texts += [f.words for f in propensity.FEATURES]
    texts += [propensity.REASON_PREFIX + f.words for f in propensity.FEATURES]
    # a segment's why names the attributes its rule reads (an offer's and an inference's why)
    described = [a.description for a in ATTRIBUTES.values() if a.description]
    texts += described + [f"Matches a rule on {d}" for d in described] + [f"A rule on {d}" for d in described]
    ids = set(message_ids())
    templates = [t for t in texts if placeholders(t)]
    assert not [t for t in templates if t not in ids]  # a template is a message id itself
    assert not [t for t in texts if catalogues().match(t) is None]
    for language in TRANSLATED:  # a value that is itself a message is translated inside the sentence
        local = [localize(f"Matches a rule on {d}", language) for d in described]
        assert not [t for t in local if re.search(r"[a-z]{3}", t.replace("ISO", ""))], local
    # every layout-rule sentence is its own message (none is built from another's pieces)
    assert len({catalogues().match(t)[0] for t in RULE_TEXTS.values()}) == len(RULE_TEXTS)  # type: ignore[index]


def test_text_fills_values_literally_and_renders_in_a_language() -> None:
    from resolvers.common.texts import text

    english = text("custom.error.twice", section="{version}")
    assert english == "“{version}” is listed twice"  # a value is data: never formatted
    assert text("custom.error.twice", Language.RU, section="search") == "«search» указан дважды"
    assert localize(english, Language.AR) == "«{version}» مذكور مرتين"
    with pytest.raises(KeyError):
        text("custom.error.twice")


def test_key_date_reminders_are_whole_sentences_with_the_date_in_the_language() -> None:
    from resolvers.common.texts import text

    on = format_day_month(date(2026, 3, 14))
    english = text("key_date.reminder.birthday", date=on, days=5)
    assert english == "A reminder: your birthday is on 14 March (5 days from now)"
    # the decision log keeps English; rendered, the month is the language's word
    assert localize(english, Language.RU) == "Напоминание: ваш день рождения 14 марта (через 5 дн.)"
    assert localize(english, Language.FA) == "یادآوری: تولد شما 14 مارس است (5 روز دیگر)"
    assert localize(text("key_date.today.name_day"), Language.RU) == "Напоминание: сегодня ваши именины"
    leap = text(
        "key_date.reminder.anniversary", Language.AR, date=format_day_month(date(2028, 2, 29)), days=3
    )
    assert "29" in leap and "فبراير" in leap and PERSIAN.search(leap)
    # a value in {date} that is not a day of the year stays as it is
    odd = "A reminder: your birthday is on 31 February (2 days from now)"
    assert "31 February" in localize(odd, Language.RU)


def test_the_model_why_translates_every_cited_signal() -> None:
    from resolvers.model.propensity import CITED, FEATURES, REASON_PREFIX

    words = [f.words for f in FEATURES]
    for n in (1, 2, 3):
        values = {
            "version": 7,
            **dict(zip(("first", "second", "third"), words[n - 1 : 2 * n - 1], strict=False)),
        }
        english = fill(CITED[n], values)
        for language in TRANSLATED:
            local = localize(english, language)
            # the longest matching template wins: no signal is left in English inside a list
            assert not re.search(r"[A-Za-z]", local), (language, local)
            assert "7" in local
    reason = localize(REASON_PREFIX + FEATURES[0].words, Language.FA)
    assert reason == "در این پیش‌بینی اثر داشت: اینکه آخرین بار کی سر زدید"
    summary = localize("Our model (version 3) predicts you are not likely to buy soon", Language.RU)
    assert summary.startswith("Наша модель (версия 3)") and "не купите" in summary


def test_experiment_whys_keep_the_name_and_variant() -> None:
    text = localize("Part of the experiment “Winter layout” (variant b)", Language.RU)
    assert text == "Часть эксперимента «Winter layout» (вариант b)"
    assert localize("Leave all experiments", Language.FA) == "خروج از همه آزمایش‌ها"  # noqa: RUF001
    count = localize("The number of offers this variant of the experiment tests: 5", Language.AR)
    assert count.endswith(": 5") and PERSIAN.search(count)
