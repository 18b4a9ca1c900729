"""User-facing texts of the person's own settings and key dates, in one place so that they can be
localized (message catalogues) without touching the rules that use them. Each entry is a format
string; the keys are stable.

Kept here: the `why` summaries and criteria of what the person chose (layout, appearance,
pinned and hidden sections), the key-date reminders and offers, and the field errors of the
customization input."""

from __future__ import annotations

from typing import Final

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
    "custom.error.section": "{section!r} is not a section of the app ({choices})",
    "custom.error.too_many": "at most {max} sections",
    "custom.error.twice": "{section!r} is listed twice",
    "custom.error.pinned_and_hidden": "{section!r} cannot be pinned and hidden at once",
    "custom.error.version": "your settings changed elsewhere (now version {version}); reload and try again",
    "custom.error.nothing": "give at least one setting",
    "custom.not_changed": "settings not changed",
    "custom.invalid_settings": "invalid settings",
    # --- key dates ---
    "key_date.kind.birthday": "your birthday",
    "key_date.kind.anniversary": "your anniversary",
    "key_date.kind.name_day": "your name day",
    "key_date.reminder": "A reminder: {what} is on {on} ({days} days from now)",
    "key_date.reminder.today": "A reminder: {what} is today",
    "key_date.offer": "A treat for {what}: 10% off one order in the week around it",
    "key_date.criteria.given": "You gave us {what} (day and month only)",
    "key_date.criteria.channel": "You chose {channel}",
    "key_date.criteria.days_before": "Sent {days} days before",
    "key_date.criteria.no_offer_minor": "No offer: we never send marketing offers to people under 18",
    "key_date.control.consent": "Review your consent for {purpose}",
}


def text(key: str, **values: object) -> str:
    """The text for `key`, with `values` filled in (a missing key is a programming error)."""
    return TEXTS[key].format(**values)
