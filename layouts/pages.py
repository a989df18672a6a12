"""The page registry: which path renders which layout, and whether it wears the navigation chrome."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dash.development.base_component import Component

LayoutFunction = Callable[[Mapping[str, str]], Component]


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    layout: LayoutFunction
    in_nav: bool = True
    chrome: bool = True  # navbar and freshness badge; the TV page has none


def all_pages() -> list[Page]:
    from layouts import cases, redmine, sales, status, support, tv

    return [
        Page("/cases", "Cases", cases.layout),
        Page("/support", "Support", support.layout),
        Page("/sales", "Sales", sales.layout),
        Page("/redmine", "Redmine", redmine.layout),
        Page("/status", "Status", status.layout),
        Page("/tv", "TV", tv.layout, in_nav=False, chrome=False),
    ]


def page_for(path: str | None) -> Page | None:
    pages = all_pages()
    if path in (None, "", "/"):
        return pages[0]
    return next((page for page in pages if page.path == path.rstrip("/")), None)
