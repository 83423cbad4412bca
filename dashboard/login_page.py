"""The sign-in page's HTML: the template, the demo role buttons, and :func:`render`.

:func:`render` is a pure function of the page's parts (product name, mode, CSRF token, next
target, error, who is signed in); it reads no request and no session. Every part is escaped by
Jinja's autoescaping (markupsafe), so a ``next`` target or a user name can never become markup.
The views that serve the page, and the rules about who may sign in, live in dashboard.auth.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jinja2

#: The demo role switcher's buttons: (role, label, hint).
ROLE_BUTTONS = (
    ("official", "Official", "task force: every value, company and site"),
    ("cluster", "Cluster association", "disclosure control on: what a cluster may present"),
    ("public", "Public", "anonymous visitors, same rules as a cluster"),
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · {{ product }}</title>
{% if css %}<link rel="stylesheet" href="{{ css }}">{% endif %}
</head>
<body class="bg-light">
<main class="container py-5"><div class="row"><div class="col-md-8 col-lg-5 mx-auto">
<h1 class="h3 mb-4">{{ product }}</h1>
{% if error %}<div class="alert alert-danger" role="alert">{{ error }}</div>{% endif %}
{% if demo %}
<div class="alert alert-warning" role="note"><strong>Demo on fictional data.</strong>
The bundled sample is made up; no password is needed. Choose whose view to see; you can switch
at any time.</div>
{% if role %}<p>Current view: <strong>{{ role }}</strong>.
<a href="{{ next }}">Back to the map</a></p>{% endif %}
{% for value, label, hint in roles %}
<form method="post" action="/demo/role/{{ value }}" class="mb-2">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ next }}">
<button type="submit" class="btn {{ 'btn-primary' if value == role else 'btn-outline-primary' }} w-100">
{{ label }}</button>
<div class="form-text">{{ hint }}</div>
</form>
{% endfor %}
{% else %}
{% if name %}<p>Signed in as <strong>{{ name }}</strong> ({{ role }}).
<a href="{{ next }}">Back to the map</a> · <a href="/logout">Sign out</a></p>{% endif %}
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ next }}">
<div class="mb-3"><label for="username" class="form-label">User name</label>
<input id="username" name="username" class="form-control" autocomplete="username" required autofocus></div>
<div class="mb-3"><label for="password" class="form-label">Password</label>
<input id="password" name="password" type="password" class="form-control"
 autocomplete="current-password" required></div>
<button type="submit" class="btn btn-primary w-100">Sign in</button>
</form>
{% if public and not name %}
<p class="mt-3"><a href="{{ next }}">Continue without signing in (public view)</a></p>
{% endif %}
{% endif %}
</div></div></main>
</body>
</html>
"""


@functools.cache
def _template() -> jinja2.Template:
    # autoescape=True is what Flask's render_template_string uses for string templates
    return jinja2.Environment(autoescape=True).from_string(PAGE)


def render(
    product: str,
    *,
    demo: bool,
    public: bool,
    css: str | None,
    csrf: str,
    next_target: str,
    error: str | None = None,
    name: str | None = None,
    role: str | None = None,
    roles: Sequence[tuple[str, str, str]] = ROLE_BUTTONS,
) -> str:
    """The sign-in page as HTML text, every part escaped.

    ``demo``: the role switcher (one form per entry of ``roles``, posting to /demo/role/<role>)
    instead of the user name and password form. ``public``: offer to continue without signing
    in. ``css``: the stylesheet's URL, or None. ``csrf``: the token every form posts back.
    ``next_target``: where the page leads afterwards (already checked to be a path on this site).
    ``error``: a message shown above the form. ``name``/``role``: who is signed in, if anyone.
    """
    return _template().render(
        product=product,
        demo=demo,
        public=public,
        roles=roles,
        css=css,
        csrf=csrf,
        next=next_target,
        error=error,
        name=name,
        role=role,
    )
