"""Bad input of every kind thrown at an app with sign-in on (hypothesis): query strings, dates, group names,
callback payloads, tokens, cookies. None may give a 500 or a traceback; a page's own callbacks must render any
query string they are given (their owners fix those that do not; the failing input is in the report)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.db import make_engine, upgrade_database
from settings import Settings
from tests.auth_support import AUTH_ON, build_app, callback_body, csrf_headers, sign_in
from web.csrf import CSRF_HEADER
from web.kiosk import KIOSK_COOKIE

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PAGES = ("/", "/cases", "/sales", "/redmine", "/status", "/tv", "/nowhere")
ROUTING = "..page-content.children...chrome.style.."
QUERY_KEYS = ("date", "window", "group", "project", "kpi", "refresh", "minutes", "page")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
junk_text = st.text(max_size=60)
dates = st.one_of(
    st.dates().map(str),
    st.dates().map(lambda d: d.strftime("%d/%m/%Y")),
    st.from_regex(r"\A[0-9]{1,5}-[0-9]{1,3}-[0-9]{1,3}\Z"),
    junk_text,
)
queries = st.one_of(
    junk_text,
    st.dictionaries(
        st.sampled_from(QUERY_KEYS), st.one_of(dates, junk_text, st.sampled_from(["day", "week", "month"]))
    ).map(urlencode),
)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    from tests.seed_dashboards import seed_all

    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    seed_all(engine, datetime.now(UTC).replace(tzinfo=None))
    engine.dispose()
    dash_app = build_app(Settings(database_url=url, testing=True, embedded_sync=False, **AUTH_ON))
    dash_app.server.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a crash is a 500, which we look for
    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()


@pytest.fixture(scope="module")
def session_client(fuzz_app):
    client = fuzz_app.server.test_client()
    sign_in(client)
    client.get("/cases")  # the CSRF cookie
    return client


def assert_clean(response) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code < 500, body[:300]
    assert "Traceback" not in body and 'File "' not in body


def post(client, body, raw: bool = False):
    headers = {**csrf_headers(client), "Content-Type": "application/json"}
    data = body if raw else json.dumps(body)
    return client.post("/_dash-update-component", data=data, headers=headers)


@FUZZ
@given(path=st.sampled_from(PAGES), query=queries)
def test_any_query_string_renders_the_page(fuzz_app, session_client, path: str, query: str) -> None:
    assert_clean(session_client.get(f"{path}?{quote(query, safe='=&')}"))
    body = callback_body(fuzz_app, ROUTING, {("url", "pathname"): path, ("url", "search"): f"?{query}"})
    response = post(session_client, body)
    assert response.status_code == 200, (path, query, response.get_data(as_text=True)[:300])


@FUZZ
@given(data=st.data())
def test_page_callbacks_take_any_url_query(fuzz_app, session_client, data) -> None:
    """Every callback that reads a page's URL search (the date, window and group controls) gets junk."""
    readers = sorted(
        key
        for key, entry in fuzz_app.callback_map.items()
        if "callback" in entry
        and any(spec["property"] == "search" for spec in [*entry["inputs"], *entry.get("state", [])])
    )
    output_key = data.draw(st.sampled_from(readers))
    entry = fuzz_app.callback_map[output_key]
    query = data.draw(queries)
    values = {(spec["id"], spec["property"]): f"?{query}" for spec in [*entry["inputs"], *entry.get("state", [])]}
    values[("url", "pathname")] = data.draw(st.sampled_from(PAGES))
    response = post(session_client, callback_body(fuzz_app, output_key, values))
    assert response.status_code in (200, 204), (output_key, query, response.get_data(as_text=True)[:300])


@FUZZ
@given(body=json_values)
def test_random_json_to_the_callback_endpoint_is_a_clean_4xx(session_client, body) -> None:
    response = post(session_client, body)
    assert_clean(response)
    assert response.status_code == 400


@FUZZ
@given(raw=st.binary(max_size=200))
def test_random_bytes_to_the_callback_endpoint_are_a_clean_4xx(session_client, raw: bytes) -> None:
    response = post(session_client, raw, raw=True)
    assert_clean(response)
    assert response.status_code == 400


@FUZZ
@given(data=st.data())
def test_well_formed_payloads_with_random_values_never_crash(fuzz_app, session_client, data) -> None:
    """Any value in any argument of any server-side callback: an answer or a clean 4xx (a callback that raises is
    logged and answers 422), never a 500 or a traceback."""
    keys = sorted(key for key, entry in fuzz_app.callback_map.items() if "callback" in entry)
    output_key = data.draw(st.sampled_from(keys))
    entry = fuzz_app.callback_map[output_key]
    specs = [*entry["inputs"], *entry.get("state", [])]
    values = {(spec["id"], spec["property"]): data.draw(json_values) for spec in specs}
    body = callback_body(fuzz_app, output_key, values)
    body["changedPropIds"] = data.draw(st.lists(st.text(max_size=20), max_size=3))
    response = post(session_client, body)
    assert_clean(response)
    assert response.status_code in (200, 204, 400, 422), (output_key, response.status_code)


@FUZZ
@given(body=st.dictionaries(st.sampled_from(["output", "outputs", "inputs", "state", "changedPropIds"]), json_values))
def test_payloads_with_the_right_keys_and_wrong_shapes_are_refused(session_client, body) -> None:
    body.setdefault("output", ROUTING)
    response = post(session_client, body)
    assert_clean(response)


@FUZZ
@given(token=st.one_of(junk_text, st.from_regex(r"\A[A-Za-z0-9_-]{43}\Z")))
def test_tokens_never_open_anything(fuzz_app, token: str) -> None:
    client = fuzz_app.server.test_client()
    arrival = client.get("/tv", query_string={"kiosk": token})
    assert_clean(arrival)
    assert arrival.status_code == 401
    client.set_cookie(KIOSK_COOKIE, token.encode("utf-8", "replace").decode("latin-1", "replace"))
    for path in ("/tv", "/_dash-layout", "/cases"):
        response = client.get(path)
        assert_clean(response)
        assert response.status_code in (302, 401), path


@FUZZ
@given(cookie=junk_text, header=junk_text)
def test_forged_session_and_csrf_values_are_refused(fuzz_app, cookie: str, header: str) -> None:
    client = fuzz_app.server.test_client()
    client.set_cookie("session", cookie.encode("utf-8", "replace").decode("latin-1", "replace"))
    page = client.get("/cases")
    assert_clean(page)
    assert page.status_code == 302
    signed_in = fuzz_app.server.test_client()
    sign_in(signed_in)
    safe_header = header.encode("latin-1", "replace").decode("latin-1").replace("\n", " ").replace("\r", " ")
    forged = signed_in.post("/_dash-update-component", json={"output": ROUTING}, headers={CSRF_HEADER: safe_header})
    assert_clean(forged)
    assert forged.status_code == 403


@FUZZ
@given(data=st.data())
def test_exports_take_any_query(fuzz_app, session_client, data) -> None:
    from web.exports import export_specs

    names = sorted(export_specs()) or ["cases"]
    name = data.draw(st.one_of(st.sampled_from(names), junk_text.filter(lambda text: "/" not in text)))
    query = data.draw(queries)
    response = session_client.get(f"/export/{quote(name)}.csv?{quote(query, safe='=&')}")
    assert_clean(response)


@FUZZ
@given(path=st.text(min_size=1, max_size=40))
def test_any_path_is_clean(session_client, path: str) -> None:
    assert_clean(session_client.get("/" + quote(path)))
    assert_clean(session_client.post("/" + quote(path), headers=csrf_headers(session_client)))
