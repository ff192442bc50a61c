from django.urls import path

from search import views

app_name = "search"

urlpatterns = [
    path("text/", views.text_results, name="text"),
    path("<int:corpus_id>/text/", views.text_results, name="corpus_text"),
    path("<int:corpus_id>/", views.results, name="results"),
    path("<int:corpus_id>/similar/<int:image_id>/", views.similar, name="similar"),
    path("<int:corpus_id>/compare/", views.compare, name="compare"),
    path("<int:corpus_id>/duplicates/", views.duplicates, name="duplicates"),
]
