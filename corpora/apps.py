from django.apps import AppConfig


class CorporaConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "corpora"
    verbose_name = "Corpora"

    def ready(self) -> None:
        from corpora import signals  # noqa: F401  (connects file clean-up on delete)
