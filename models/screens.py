"""Screens: what each kiosk's TV last reported (table `screens`) and the state /status and `kiosk list` show.

A screen's last sign of life is the later of its last report and its kiosk token's last use; it is "online" until
OFFLINE_AFTER has passed without one. The routes that write reports are web/screens.py.

Must not import Dash, Flask or sync/.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from models.schema import kiosk_tokens, screens

OFFLINE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Report:
    slide: str
    width: int
    height: int
    version: str
    errors: int
    error: str


def record_report(engine: Engine, kiosk_name: str, report: Report, now: datetime) -> bool:
    """Keep `report` as the kiosk's latest; False when there is no such active kiosk (nothing is written)."""
    with engine.begin() as conn:
        kiosk_id = conn.execute(
            select(kiosk_tokens.c.id).where(kiosk_tokens.c.name == kiosk_name, kiosk_tokens.c.revoked_at.is_(None))
        ).scalar()
        if kiosk_id is None:
            return False
        stored = conn.execute(
            select(screens.c.error_count, screens.c.last_error_at).where(screens.c.kiosk_id == kiosk_id)
        ).first()
        new_error = report.errors > 0 and (stored is None or report.errors != stored.error_count)
        values = {
            "reported_at": now,
            "slide": report.slide,
            "width": report.width,
            "height": report.height,
            "app_version": report.version,
            "error_count": report.errors,
            # The errors of the page as loaded now: a reload (errors 0) clears the last one.
            "last_error": report.error if report.errors else "",
            "last_error_at": now if new_error else (stored.last_error_at if stored and report.errors else None),
        }
        if stored is not None:
            conn.execute(update(screens).where(screens.c.kiosk_id == kiosk_id).values(**values))
            return True
    try:
        with engine.begin() as conn:
            conn.execute(insert(screens).values(kiosk_id=kiosk_id, **values))
    except IntegrityError:  # the same screen's report in another request got there first: the next one updates
        pass
    return True


@dataclass(frozen=True)
class ScreenState:
    name: str
    state: str  # "online", "offline", "revoked" or "never seen"
    last_seen: datetime | None
    slide: str
    width: int | None
    height: int | None
    version: str
    error: str  # the page's last error since it loaded ("" when none)
    error_at: datetime | None

    @property
    def size(self) -> str:
        return f"{self.width}×{self.height}" if self.width and self.height else ""

    @property
    def failed(self) -> bool:
        return bool(self.error)


def screen_states(engine: Engine, now: datetime) -> list[ScreenState]:
    """Every kiosk as a screen, by name. `now` is naive UTC (tests pass a fake clock)."""
    query = (
        select(
            kiosk_tokens.c.name,
            kiosk_tokens.c.revoked_at,
            kiosk_tokens.c.last_used_at,
            screens.c.reported_at,
            screens.c.slide,
            screens.c.width,
            screens.c.height,
            screens.c.app_version,
            screens.c.error_count,
            screens.c.last_error,
            screens.c.last_error_at,
        )
        .select_from(kiosk_tokens.outerjoin(screens, screens.c.kiosk_id == kiosk_tokens.c.id))
        .order_by(kiosk_tokens.c.name)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    states = []
    for row in rows:
        seen = [moment for moment in (row.reported_at, row.last_used_at) if moment is not None]
        last_seen = max(seen) if seen else None
        if row.revoked_at is not None:
            state = "revoked"
        elif last_seen is None:
            state = "never seen"
        else:
            state = "online" if now - last_seen <= OFFLINE_AFTER else "offline"
        failed = bool(row.error_count) and row.reported_at is not None
        states.append(
            ScreenState(
                name=row.name,
                state=state,
                last_seen=last_seen,
                slide=row.slide or "",
                width=row.width,
                height=row.height,
                version=row.app_version or "",
                error=(row.last_error or "page error") if failed else "",
                error_at=row.last_error_at if failed else None,
            )
        )
    return states
