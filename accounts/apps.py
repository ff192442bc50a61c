from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Accounts: signing up and in (pages, admin login and the token API, with their failed
    attempt limits) and the REST API's credentials."""

    name = "accounts"
    verbose_name = "Accounts"
