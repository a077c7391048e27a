"""URLs: public store pages, editors' pages, accounts, and the JSON API under /api/."""

from django.urls import include, path

urlpatterns = [
    path("", include("whatworks.web.store.urls")),
    path("editor/", include("whatworks.web.store.editor_urls")),
    path("places/", include("whatworks.web.places.urls")),
    path("trials/", include("whatworks.web.trials.urls")),
    path("accounts/", include("whatworks.web.accounts.urls")),
    path("api/", include("whatworks.web.api.urls")),
]

handler404 = "whatworks.web.store.errors.not_found"
handler500 = "whatworks.web.store.errors.server_error"
