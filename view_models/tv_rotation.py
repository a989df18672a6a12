"""What a named screen rotates through: its slides (each a page with its group or project, optionally its own
seconds and a time-of-day window) and the seconds per slide, from `[tv.screens.<name>]` in kpi.toml or from
`kiosk set NAME --slides ... --seconds ...`.

    [tv.screens.lobby]
    seconds = 20
    slides = [
      { page = "sales", group = "Sales", from = "08:00", to = "12:00" },
      { page = "cases", group = "Support", seconds = 40 },
      { page = "redmine", project = "Platform" },
    ]

`SLIDE_KINDS` is the one list of the slide kinds a TV knows (view_models/tv_state.py takes its pages from here): a new
kind of slide is added here, with the key that names its selector ("group" or "project").

Pure: raw values in, dataclasses out; the parsers raise RotationError naming the key and the fix. Must not import
Dash, Flask, SQL or settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any

SLIDE_KINDS: dict[str, str] = {  # page -> the key that names its selector
    "cases": "group",
    "sales": "group",
    "redmine": "project",
    "support": "group",
}
MIN_SECONDS, MAX_SECONDS = 5, 3600
MAX_SCREEN_SLIDES = 24
MAX_SELECTOR_LENGTH = 200
SLIDE_KEYS = {"page", "group", "project", "seconds", "from", "to"}
SCREEN_KEYS = {"slides", "seconds"}


class RotationError(ValueError):
    """A screen's rotation that cannot be used; the message names the key and what to write instead."""


@dataclass(frozen=True)
class ScreenSlide:
    page: str
    selector: str = ""  # the group (cases, sales) or project (redmine); "" = all
    seconds: int | None = None  # None: the screen's seconds
    window: tuple[time, time] | None = None  # shown from [0] until [1] (local); across midnight when [0] > [1]

    def shows_at(self, moment: time) -> bool:
        if self.window is None:
            return True
        start, end = self.window
        if start < end:
            return start <= moment < end
        return moment >= start or moment < end


@dataclass(frozen=True)
class ScreenRotation:
    slides: tuple[ScreenSlide, ...]
    seconds: int | None = None  # None: the URL's (or the default) seconds per slide

    def active_at(self, moment: time) -> tuple[ScreenSlide, ...]:
        """The slides whose window covers `moment` (local wall clock); all of them when none does, so a screen is
        never blank outside its windows."""
        return tuple(slide for slide in self.slides if slide.shows_at(moment)) or self.slides

    def to_raw(self) -> dict[str, Any]:
        """The same rotation as kpi.toml would write it (what `kiosk set` stores)."""
        raw: dict[str, Any] = {"slides": [_slide_raw(slide) for slide in self.slides]}
        if self.seconds is not None:
            raw["seconds"] = self.seconds
        return raw


def _slide_raw(slide: ScreenSlide) -> dict[str, Any]:
    raw: dict[str, Any] = {"page": slide.page}
    if slide.selector:
        raw[SLIDE_KINDS[slide.page]] = slide.selector
    if slide.seconds is not None:
        raw["seconds"] = slide.seconds
    if slide.window is not None:
        raw["from"], raw["to"] = (f"{moment:%H:%M}" for moment in slide.window)
    return raw


# --- parsing ------------------------------------------------------------------------------------------------------


def parse_screens(raw: object, where: str = "tv.screens") -> dict[str, ScreenRotation]:
    """`[tv.screens.<name>]` tables, by screen name."""
    if not isinstance(raw, Mapping):
        raise RotationError(f"{where} must be a table of screens, e.g. [tv.screens.lobby]")
    return {str(name): parse_rotation(table, f"{where}.{name}") for name, table in raw.items()}


def parse_rotation(raw: object, where: str) -> ScreenRotation:
    if not isinstance(raw, Mapping):
        raise RotationError(f"{where} must be a table with slides = [...] and seconds = N")
    _known_keys(raw, SCREEN_KEYS, where)
    slides = raw.get("slides")
    if not isinstance(slides, list) or not slides:
        raise RotationError(f'{where}.slides must be a non-empty list, e.g. [{{ page = "cases" }}]')
    if len(slides) > MAX_SCREEN_SLIDES:
        raise RotationError(f"{where}.slides has {len(slides)} slides: at most {MAX_SCREEN_SLIDES}")
    return ScreenRotation(
        slides=tuple(parse_slide(item, f"{where}.slides[{n}]") for n, item in enumerate(slides)),
        seconds=_seconds(raw, where),
    )


def parse_slide(raw: object, where: str) -> ScreenSlide:
    if isinstance(raw, str):
        raw = {"page": raw}
    if not isinstance(raw, Mapping):
        raise RotationError(f'{where} must be a page name or a table like {{ page = "cases", group = "Support" }}')
    _known_keys(raw, SLIDE_KEYS, where)
    page = raw.get("page")
    if page not in SLIDE_KINDS:
        raise RotationError(f"{where}.page {page!r} is not a slide (known: {', '.join(SLIDE_KINDS)})")
    selector_key = SLIDE_KINDS[page]
    other = ({"group", "project"} - {selector_key}).pop()
    if other in raw:
        raise RotationError(f'{where}.{other}: a {page} slide takes {selector_key} = "...", not {other}')
    selector = raw.get(selector_key, "")
    if not isinstance(selector, str) or len(selector) > MAX_SELECTOR_LENGTH or not selector.isprintable():
        raise RotationError(f"{where}.{selector_key} must be a {selector_key} name (a string)")
    window = None
    if "from" in raw or "to" in raw:
        if "from" not in raw or "to" not in raw:
            raise RotationError(f'{where} needs both from and to, e.g. from = "08:00", to = "12:00"')
        window = (parse_clock(raw["from"], f"{where}.from"), parse_clock(raw["to"], f"{where}.to"))
        if window[0] == window[1]:
            raise RotationError(f"{where}: from and to are both {window[0]:%H:%M}; leave both out to show it all day")
    return ScreenSlide(page, selector.strip(), _seconds(raw, where), window)


def _known_keys(raw: Mapping, allowed: set[str], where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise RotationError(f"{where}.{key} is not a known key (known: {', '.join(sorted(allowed))})")


def _seconds(raw: Mapping, where: str) -> int | None:
    if "seconds" not in raw:
        return None
    value = raw["seconds"]
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_SECONDS <= value <= MAX_SECONDS:
        raise RotationError(f"{where}.seconds must be a whole number of {MIN_SECONDS} to {MAX_SECONDS}, not {value!r}")
    return value


def parse_clock(value: object, where: str) -> time:
    """ "08:00" (or a TOML local time, 08:00:00) as a time of day."""
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        try:
            hours, minutes = value.strip().split(":")
            return time(int(hours), int(minutes))
        except ValueError:
            pass
    raise RotationError(f'{where} must be a time of day like "08:00" (got {value!r})')


# --- the command line -----------------------------------------------------------------------------------------


def parse_slide_list(text: str, where: str = "--slides") -> list[dict[str, Any]]:
    """`kiosk set --slides "sales:Sales@08:00-12:00,cases:Support,redmine"`: comma-separated PAGE[:GROUP or
    PROJECT][@FROM-TO], as the raw tables parse_rotation reads (it checks them)."""
    items: list[dict[str, Any]] = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        spec, _, window = part.partition("@")
        page, _, selector = (piece.strip() for piece in spec.partition(":"))
        item: dict[str, Any] = {"page": page.lower()}
        if selector:
            item[SLIDE_KINDS.get(page.lower(), "group")] = selector
        if window:
            start, dash, end = window.partition("-")
            if not dash:
                raise RotationError(f"{where}: {part!r}: write the window as @08:00-12:00")
            item["from"], item["to"] = start.strip(), end.strip()
        items.append(item)
    return items


def describe(rotation: ScreenRotation) -> str:
    """One line for `kiosk list`: "sales:Sales@08:00-12:00, cases:Support (40 s), redmine; 20 s"."""
    parts = []
    for slide in rotation.slides:
        text = slide.page + (f":{slide.selector}" if slide.selector else "")
        if slide.window:
            text += f"@{slide.window[0]:%H:%M}-{slide.window[1]:%H:%M}"
        if slide.seconds:
            text += f" ({slide.seconds} s)"
        parts.append(text)
    return ", ".join(parts) + (f"; {rotation.seconds} s" if rotation.seconds else "")
