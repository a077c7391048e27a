"""Template context shared by every page."""

from whatworks import __version__

from ..accounts.roles import is_admin, is_editor


def site(request):
    user = getattr(request, "user", None)
    return {"whatworks_version": __version__,
            "user_is_editor": bool(user and is_editor(user)),
            "user_is_admin": bool(user and is_admin(user))}
