from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import image_bytes, index_of, make_corpus, make_record

pytestmark = pytest.mark.django_db


def test_admin_pages_load_for_staff(client, django_user_model, user):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    corpus = make_corpus(user)
    record = make_record(corpus, error="")
    client.force_login(admin)
    for url in (
        reverse("admin:index"),
        reverse("admin:corpora_corpus_changelist"),
        reverse("admin:corpora_corpus_change", args=[corpus.pk]),
        reverse("admin:corpora_imagerecord_changelist"),
        reverse("admin:corpora_imagerecord_changelist") + "?status__exact=pending&q=a.png",
        reverse("admin:corpora_imagerecord_change", args=[record.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    thumbnail = reverse("corpora:image_thumbnail", args=[corpus.pk, record.pk])
    assert thumbnail.encode() in client.get(reverse("admin:corpora_imagerecord_changelist")).content
    assert client.get(thumbnail).status_code == 200


def test_admin_redirects_non_staff(client, user):
    client.force_login(user)
    response = client.get(reverse("admin:corpora_corpus_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert client.get(reverse("admin:index")).status_code == 302


def test_staff_can_rebuild_a_lost_index(
    client, django_user_model, user, settings, django_capture_on_commit_callbacks
):
    import io
    import shutil

    from corpora import services
    from corpora.models import Corpus
    from search.indices.build import index_root

    settings.CRIER_ENCODER = "histogram"
    corpus = make_corpus(user)
    with django_capture_on_commit_callbacks(execute=True):
        services.ingest_files(corpus=corpus, files=[("a.png", io.BytesIO(image_bytes(seed=1)))])
    shutil.rmtree(index_root(corpus.pk))  # the index directory is lost

    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:corpora_corpus_changelist"),
            {"action": "rebuild_index", "_selected_action": [corpus.pk]},
            follow=True,
        )
    assert response.status_code == 200
    corpus = Corpus.objects.get(pk=corpus.pk)
    assert corpus.status == "ready"
    assert (index_root(corpus.pk) / index_of(corpus).version).is_dir()
