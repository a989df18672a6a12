"""The small standalone answers of sign-in and the gate: HTML pages (no scripts, the local Bootstrap theme, escaped
text only) and refusals, as JSON for XHR and downloads and as a page for navigations."""

from __future__ import annotations

from html import escape

from flask import Response, jsonify

from web.errors import wants_json


def refusal(status: int, message: str) -> Response:
    if wants_json():
        return json_refusal(status, message)
    return page("Not allowed", f"<p>{escape(message)}</p>", status)


def json_refusal(status: int, message: str, **extra: str) -> Response:
    response = jsonify(error=message, **extra)
    response.status_code = status
    return response


def try_again() -> str:
    return (
        '<p><a class="btn btn-primary" href="/login">Try again</a></p>'
        '<p class="text-muted small">To use another Google account, sign out of this one at Google first '
        "or use a private window.</p>"
    )


def page(title: str, body: str, status: int) -> Response:
    """A small standalone HTML page (sign-in, refusals): no scripts, the local Bootstrap theme, escaped text only."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · KPI Dashboard</title>"
        '<link rel="icon" href="/_favicon.ico"><link rel="stylesheet" href="/assets/vendor/bootstrap.min.css">'
        '</head><body class="bg-light"><main class="container py-5"><div class="row justify-content-center">'
        f'<div class="col-md-8 col-lg-6"><h1 class="h3 mb-4">KPI Dashboard · {escape(title)}</h1>{body}</div>'
        "</div></main></body></html>"
    )
    return Response(html, status=status, content_type="text/html; charset=utf-8")
