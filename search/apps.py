from django.apps import AppConfig


class SearchConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from corpora.encoder_options import EncoderCatalogue, register_encoder_catalogue
        from search import signals  # noqa: F401  (connects the receivers)
        from search.encoders import encoder_choices, encoder_names, is_model_handle
        from search.encoders.registry import model_input_recipe

        register_encoder_catalogue(
            EncoderCatalogue(
                names=encoder_names,
                choices=encoder_choices,
                accepts=is_model_handle,
                model_input=model_input_recipe,
            )
        )
