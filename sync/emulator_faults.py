"""The fault queue of the source emulators (sync/vtiger_emulator.py, sync/redmine_emulator.py): injected faults
wait in a list, each letting `after` matching calls through and then firing `times` times.

    fault = take_due(emulator_faults, lambda fault: fault.matches(path))   # None: answer normally

Each emulator keeps its own Fault dataclass (what a fault can do differs); this is only the counting. Not
thread-safe by itself: callers hold their emulator's lock. Must not import Dash, Flask or the database layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar


class Countdown(Protocol):
    after: int  # matching calls still to let through
    times: int  # calls still to answer with this fault


F = TypeVar("F", bound=Countdown)


def take_due(faults: list[F], matches: Callable[[F], bool]) -> F | None:
    """The first matching fault that is due for this call, counted down (and dropped from `faults` once used
    up); a matching fault still letting calls through counts that call instead."""
    for fault in faults:
        if not matches(fault):
            continue
        if fault.after > 0:
            fault.after -= 1
            continue
        fault.times -= 1
        if fault.times <= 0:
            faults.remove(fault)
        return fault
    return None
