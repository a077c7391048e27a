from django.apps import AppConfig


class StoreConfig(AppConfig):
    """The public Evidence Store and its editors' pages."""

    name = "whatworks.web.store"
    label = "store"
    verbose_name = "Evidence Store"

    def ready(self):
        from . import checks  # noqa: F401  (registers system checks)
        from .page_cache import connect_signals

        connect_signals()
