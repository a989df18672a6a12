"""The shape check of Dash callback payloads: a /_dash-update-component body is checked against the callback it
names, the way Dash's renderer builds it, so that malformed input is a clean 400 instead of a 500 inside Dash."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import request


class PayloadError(ValueError):
    """A /_dash-update-component body that Dash's renderer would never send."""


@dataclass(frozen=True)
class CallbackCall:
    """One validated callback request: which callback, what it writes, and what it was sent."""

    output_key: str
    output_ids: tuple[str | dict[str, Any], ...]
    sent: tuple[tuple[str, str, Any], ...]  # (component id, property, value) for the plain (non-wildcard) arguments

    def value_of(self, component_id: str, prop: str) -> Any:
        return next((value for cid, name, value in self.sent if cid == component_id and name == prop), None)

    def declares(self, component_id: str, prop: str) -> bool:
        return any(cid == component_id and name == prop for cid, name, _ in self.sent)


def split_output_key(output_key: str) -> list[tuple[str, str]]:
    """(component id, property) of each output named by a key of app.callback_map: "id.prop" for one output,
    "..a.x...b.y.." for several (Dash's own spelling of the key; wildcard ids are JSON, dots included)."""
    keys = output_key[2:-2].split("...") if output_key.startswith("..") else [output_key]
    parts: list[tuple[str, str]] = []
    for key in keys:
        component_id, prop = key.rsplit(".", 1)
        parts.append((component_id, prop))
    return parts


def output_ids(output_key: str) -> tuple[str | dict[str, Any], ...]:
    """Component ids a callback writes, from its key in app.callback_map (pattern-matching ids as dicts)."""
    ids: list[str | dict[str, Any]] = []
    for component_id, _ in split_output_key(output_key):
        if isinstance(component_id, str) and component_id.startswith("{"):
            try:
                parsed = json.loads(component_id)
            except ValueError:
                parsed = component_id
            ids.append(parsed if isinstance(parsed, dict) else component_id)
        else:
            ids.append(component_id)
    return tuple(ids)


def request_json() -> Any:
    """The request's JSON body, None when it is not JSON; PayloadError when it nests deeper than the parser can
    follow (json raises RecursionError, which Flask would turn into a 500)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        raise PayloadError("the body nests too deeply") from None


def parse_callback_call(body: Any, callback_map: Mapping[str, Mapping[str, Any]]) -> CallbackCall:
    """Check a callback body against the callback it names, the way Dash's renderer builds it, so that malformed
    input is a clean 400 here instead of a KeyError or TypeError (a 500) inside Dash."""
    if not isinstance(body, dict):
        raise PayloadError("the body must be a JSON object")
    output = body.get("output")
    if not isinstance(output, str):
        raise PayloadError("unknown callback")
    entry = callback_map.get(output)
    if entry is None or "callback" not in entry:  # clientside callbacks are in the map too, without a function
        raise PayloadError("unknown callback")
    sent: list[tuple[str, str, Any]] = []
    for field in ("inputs", "state"):
        declared = list(entry.get(field) or [])
        given = body.get(field, [])
        if not isinstance(given, list) or len(given) != len(declared):
            raise PayloadError(f"{field} must list the callback's {len(declared)} {field}")
        for spec, item in zip(declared, given, strict=True):
            sent.extend(_check_argument(spec, item, field))
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(item, str) for item in changed):
        raise PayloadError("changedPropIds must be a list of strings")
    if not entry.get("no_output") and "outputs" in body:
        _check_outputs(output, body["outputs"])
    return CallbackCall(output_key=output, output_ids=output_ids(output), sent=tuple(sent))


def _is_wildcard(component_id: Any) -> bool:
    return isinstance(component_id, str) and component_id.startswith("{")


def _check_argument(spec: Mapping[str, Any], item: Any, field: str) -> list[tuple[str, str, Any]]:
    if not _is_wildcard(spec["id"]):
        if not isinstance(item, dict) or item.get("id") != spec["id"] or item.get("property") != spec["property"]:
            raise PayloadError(f"{field} do not match the callback's arguments")
        return [(spec["id"], spec["property"], item.get("value"))]
    # Pattern-matching argument: one dict (MATCH) or a list of dicts (ALL, ALLSMALLER), each with a dict id.
    items = item if isinstance(item, list) else [item]
    for one in items:
        if not isinstance(one, dict) or not isinstance(one.get("id"), dict) or one.get("property") != spec["property"]:
            raise PayloadError(f"{field} do not match the callback's arguments")
    return []


def _check_outputs(output_key: str, outputs: Any) -> None:
    declared = output_ids(output_key)
    multi = output_key.startswith("..")
    given = outputs if multi else [outputs]
    if not isinstance(given, list) or len(given) != len(declared):
        raise PayloadError("outputs do not match the callback's outputs")
    for component_id, item in zip(declared, given, strict=True):
        items = item if isinstance(item, list) and isinstance(component_id, dict) else [item]
        for one in items:
            if not isinstance(one, dict) or not isinstance(one.get("property"), str):
                raise PayloadError("outputs do not match the callback's outputs")
            if isinstance(component_id, dict):
                if not isinstance(one.get("id"), dict):
                    raise PayloadError("outputs do not match the callback's outputs")
            elif one.get("id") != component_id:
                raise PayloadError("outputs do not match the callback's outputs")
