from django.urls import path

from corpora import views

app_name = "corpora"

urlpatterns = [
    path("<int:corpus_id>/images/<int:image_id>/file/", views.image_file, name="image_file"),
]
