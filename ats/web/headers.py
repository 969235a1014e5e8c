"""Security headers on every answer: pages, fragments, files and the API.

Pages get a Content-Security-Policy that allows only our own scripts, styles,
frames and form targets (no inline script: htmx is configured by its meta tag,
page code lives in static/). Images may also come as ``data:`` or over
``https:``: a company's logo URL and the settings previews. Other answers (a
CV PDF shown in the preview frame, JSON) need no policy of their own; all get
``nosniff``, a same-origin Referrer-Policy (the CSRF check reads the Referer on
HTTPS), and framing by our own pages only. HSTS when served over HTTPS
(``ATS_HTTPS``).
"""

from __future__ import annotations

from flask import Flask, Response

CSP = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data: https:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"


def register(app: Flask) -> None:
    https = bool(app.config.get("SESSION_COOKIE_SECURE"))

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if https:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
