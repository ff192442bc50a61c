from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Accounts: signing up and in (pages, admin login and the token API, with their failed
    attempt limits) and the REST API's credentials."""

    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import schema  # noqa: F401  (registers the schema's security scheme)
