"""/api/v1/ — every REST endpoint, named under the "api" namespace."""

from django.urls import path

from accounts.api import ApiKeyDetailApi, ApiKeyListApi, TokenApi, TokenRevokeApi
from corpora import api as corpora_api
from search import api as search_api

app_name = "api"

urlpatterns = [
    path("auth/token/", TokenApi.as_view(), name="token"),
    path("auth/token/revoke/", TokenRevokeApi.as_view(), name="token-revoke"),
    path("auth/keys/", ApiKeyListApi.as_view(), name="key-list"),
    path("auth/keys/<int:key_id>/", ApiKeyDetailApi.as_view(), name="key-detail"),
    path("trash/", corpora_api.TrashApi.as_view(), name="trash"),
    path("trash/empty/", corpora_api.TrashEmptyApi.as_view(), name="trash-empty"),
    path(
        "trash/corpora/<int:corpus_id>/",
        corpora_api.TrashedCorpusApi.as_view(),
        name="trash-corpus",
    ),
    path(
        "trash/corpora/<int:corpus_id>/restore/",
        corpora_api.TrashedCorpusRestoreApi.as_view(),
        name="trash-corpus-restore",
    ),
    path(
        "trash/restore/",
        corpora_api.TrashedImagesRestoreApi.as_view(),
        name="trash-images-restore",
    ),
    path("trash/images/<int:image_id>/", corpora_api.TrashedImageApi.as_view(), name="trash-image"),
    path(
        "trash/images/<int:image_id>/restore/",
        corpora_api.TrashedImageRestoreApi.as_view(),
        name="trash-image-restore",
    ),
    path(
        "trash/images/<int:image_id>/thumbnail/",
        corpora_api.TrashedImageThumbnailApi.as_view(),
        name="trash-image-thumbnail",
    ),
    path("corpora/", corpora_api.CorpusListApi.as_view(), name="corpus-list"),
    path("corpora/<int:corpus_id>/", corpora_api.CorpusDetailApi.as_view(), name="corpus-detail"),
    path(
        "corpora/<int:corpus_id>/retry/", corpora_api.CorpusRetryApi.as_view(), name="corpus-retry"
    ),
    path(
        "corpora/<int:corpus_id>/export/",
        corpora_api.CorpusExportApi.as_view(),
        name="corpus-export",
    ),
    path("corpora/<int:corpus_id>/images/", corpora_api.ImageListApi.as_view(), name="image-list"),
    path(
        "corpora/<int:corpus_id>/images/delete/",
        corpora_api.ImageBulkDeleteApi.as_view(),
        name="image-bulk-delete",
    ),
    path(
        "corpora/<int:corpus_id>/images/<int:image_id>/",
        corpora_api.ImageDetailApi.as_view(),
        name="image-detail",
    ),
    path(
        "corpora/<int:corpus_id>/images/<int:image_id>/file/",
        corpora_api.ImageFileApi.as_view(),
        name="image-file",
    ),
    path(
        "corpora/<int:corpus_id>/images/<int:image_id>/thumbnail/",
        corpora_api.ImageThumbnailApi.as_view(),
        name="image-thumbnail",
    ),
    path("search/", search_api.TextSearchApi.as_view(), name="text-search"),
    path("corpora/<int:corpus_id>/search/", search_api.SearchApi.as_view(), name="search"),
    path(
        "corpora/<int:corpus_id>/search/similar/",
        search_api.SimilarSearchApi.as_view(),
        name="search-similar",
    ),
    path("corpora/<int:corpus_id>/compare/", search_api.CompareApi.as_view(), name="compare"),
    path(
        "corpora/<int:corpus_id>/images/<int:image_id>/compare/",
        search_api.CompareFileApi.as_view(),
        name="compare-file",
    ),
    path(
        "corpora/<int:corpus_id>/duplicates/",
        search_api.DuplicatesApi.as_view(),
        name="duplicates",
    ),
]
