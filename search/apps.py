from django.apps import AppConfig


class SearchConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from corpora.encoder_options import EncoderCatalogue, register_encoder_catalogue
        from corpora.preparation import register_upload_companion
        from search import signals  # noqa: F401  (connects the receivers)
        from search.encoders import encoder_choices, encoder_names, is_model_handle
        from search.encoding.model_inputs import companion_for

        register_encoder_catalogue(
            EncoderCatalogue(names=encoder_names, choices=encoder_choices, accepts=is_model_handle)
        )
        # Each upload's one decode also makes the encoder's model input (search's, from here).
        register_upload_companion(companion_for)
