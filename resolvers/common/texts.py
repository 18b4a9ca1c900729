"""User-facing texts of the person's own settings and key dates, in one place so that they can be
localized without touching the rules that use them. Each entry is an English template with
`{name}` placeholders and is a message id of the catalogues (privacy/i18n/messages.pot); the keys
are stable. `text` fills the values in literally (no format specs: values are data) and gives the
English text the decision log keeps, or the text in a language; a text made here in English is
translated again wherever it is rendered (`privacy.i18n.localize`). A text with grammar that
depends on a value (a birthday, an anniversary) is one whole sentence per value, never pieces.

Kept here: the `why` summaries and criteria of what the person chose (layout, appearance,
pinned and hidden sections), the key-date reminders and offers, and the field errors of the
customization input."""

from __future__ import annotations

from typing import Final

from privacy.i18n import DEFAULT, Language, fill, localize

TEXTS: Final[dict[str, str]] = {
    # --- layout parts the person chose (signal source STATED_BY_YOU) ---
    "custom.layout.simple": "You chose this: the simple layout",
    "custom.layout.full": "You chose this: the full layout",
    "custom.section.pinned": "You chose this: you pinned this section to the top",
    "custom.flag.simple": "You chose this: tips are on in the simple layout",
    "custom.flag.full": "You chose this: tips are off in the full layout",
    "custom.flag.quick_actions_simple": "You chose this: no shortcuts in the simple layout",
    "custom.appearance.stated": "You chose this: your theme, colour, text size and density",
    "custom.appearance.default": "Standard appearance; you can choose your own",
    "custom.control.layout": "Choose your layout yourself",
    "custom.control.change": "Change your settings",
    "custom.criteria.stated": "Set by you in your settings",
    "custom.criteria.client": "Sent by your app from the settings kept on your device",
    # --- customization input errors ---
    "custom.error.accent": "not in the published palette ({choices})",
    "custom.error.font_scale": "one of {choices}",
    "custom.error.section": "“{section}” is not a section of the app ({choices})",
    "custom.error.too_many": "at most {max} sections",
    "custom.error.twice": "“{section}” is listed twice",
    "custom.error.pinned_and_hidden": "“{section}” cannot be pinned and hidden at once",
    "custom.error.version": "your settings changed elsewhere (now version {version}); reload and try again",
    "custom.error.nothing": "give at least one setting",
    "custom.not_changed": "settings not changed",
    "custom.invalid_settings": "invalid settings",
    # --- key dates: one whole sentence per kind, so each language can decline "birthday" ---
    "key_date.reminder.birthday": "A reminder: your birthday is on {date} ({days} days from now)",
    "key_date.reminder.anniversary": "A reminder: your anniversary is on {date} ({days} days from now)",
    "key_date.reminder.name_day": "A reminder: your name day is on {date} ({days} days from now)",
    "key_date.today.birthday": "A reminder: your birthday is today",
    "key_date.today.anniversary": "A reminder: your anniversary is today",
    "key_date.today.name_day": "A reminder: your name day is today",
    "key_date.offer.birthday": "A birthday treat: 10% off one order in the week around it",
    "key_date.offer.anniversary": "An anniversary treat: 10% off one order in the week around it",
    "key_date.offer.name_day": "A name-day treat: 10% off one order in the week around it",
    "key_date.given.birthday": "You gave us your birthday (day and month only)",
    "key_date.given.anniversary": "You gave us your anniversary (day and month only)",
    "key_date.given.name_day": "You gave us your name day (day and month only)",
    "key_date.criteria.channel": "You chose {channel}",
    "key_date.criteria.days_before": "Sent {days} days before",
    "key_date.criteria.no_offer_minor": "No offer: we never send marketing offers to people under 18",
    "key_date.control.consent": "Review your consent for {purpose}",
}


def text(key: str, language: Language = DEFAULT, **values: object) -> str:
    """The text for `key` with `values` filled in, in `language` (English by default, as the
    decision log keeps it). A missing key or value is a programming error (KeyError)."""
    return localize(fill(TEXTS[key], values), language)
