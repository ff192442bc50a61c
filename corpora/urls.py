from django.urls import path

from corpora import views

app_name = "corpora"

urlpatterns = [
    path("", views.corpus_list, name="list"),
    path("trash/", views.trash_page, name="trash"),
    path(
        "trash/corpora/<int:corpus_id>/restore/",
        views.trash_restore_corpus,
        name="trash_restore_corpus",
    ),
    path("trash/images/restore/", views.trash_restore_images, name="trash_restore_images"),
    path("trash/delete/", views.trash_purge, name="trash_purge"),
    path("trash/images/<int:image_id>/thumbnail/", views.trash_thumbnail, name="trash_thumbnail"),
    path("<int:corpus_id>/", views.corpus_detail, name="detail"),
    path("<int:corpus_id>/upload/", views.corpus_upload, name="upload"),
    path("<int:corpus_id>/edit/", views.corpus_edit, name="edit"),
    path("<int:corpus_id>/delete/", views.corpus_delete, name="delete"),
    path("<int:corpus_id>/retry/", views.corpus_retry, name="retry"),
    path("<int:corpus_id>/export/", views.corpus_export, name="export"),
    path("<int:corpus_id>/images/delete/", views.images_delete, name="images_delete"),
    path("<int:corpus_id>/images/<int:image_id>/", views.image_detail, name="image"),
    path("<int:corpus_id>/images/<int:image_id>/edit/", views.image_edit, name="image_edit"),
    path("<int:corpus_id>/images/<int:image_id>/delete/", views.image_delete, name="image_delete"),
    path("<int:corpus_id>/images/<int:image_id>/file/", views.image_file, name="image_file"),
    path(
        "<int:corpus_id>/images/<int:image_id>/thumbnail/",
        views.image_file,
        {"thumbnail": True},
        name="image_thumbnail",
    ),
]
