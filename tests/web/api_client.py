"""Calling the store's API as a user with a token, for the API tests."""

import json

from rest_framework.authtoken.models import Token


def api_call(client, user, method, path, payload=None, **headers):
    """``client.<method>(path)`` with ``user``'s API token, ``payload`` as JSON and ``headers``
    (e.g. ``**{"If-Match": etag}``)."""
    token, _ = Token.objects.get_or_create(user=user)
    return getattr(client, method)(path, data=json.dumps(payload) if payload is not None else None,
                                   content_type="application/json",
                                   HTTP_AUTHORIZATION=f"Token {token.key}", headers=headers)
