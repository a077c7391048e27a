"""WSGI entry point: ``gunicorn whatworks.web.wsgi:application``.

Importing it also loads the URL configuration (every app's views) and computes the places pages'
data once (``places.analysis.warm``), so no reader's first request pays for either. ``whatworks
serve`` imports it before gunicorn forks, so every worker inherits the result.
``WHATWORKS_WARM=0`` skips it.
"""

import logging
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatworks.web.settings")
application = get_wsgi_application()

if os.environ.get("WHATWORKS_WARM", "1") != "0":
    from django.urls import get_resolver

    from whatworks.web.places.analysis import warm

    get_resolver().url_patterns  # noqa: B018  (imports every app's views now, not on request 1)
    try:
        warm()
    except Exception:  # the rest of the site still serves; the places pages will say what failed
        logging.getLogger("whatworks").exception("places: could not precompute at start-up")
