from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Accounts and roles: readers need no login; editors edit drafts; admins publish."""

    name = "whatworks.web.accounts"
    label = "accounts"

    def ready(self):
        from .audit import connect_signals

        connect_signals()
