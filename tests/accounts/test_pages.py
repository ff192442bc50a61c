from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_sign_up_log_in_log_out(client, django_user_model):
    response = client.post(
        reverse("signup"),
        {"username": "carol", "password1": "correct-horse-42", "password2": "correct-horse-42"},
    )
    assert response.status_code == 302
    assert django_user_model.objects.filter(username="carol").exists()
    assert client.get(reverse("home")).context["user"].is_authenticated

    client.post(reverse("logout"))
    assert not client.get(reverse("home")).context["user"].is_authenticated

    response = client.post(
        reverse("login"), {"username": "carol", "password": "correct-horse-42"}, follow=True
    )
    assert response.context["user"].username == "carol"


def test_sign_up_with_mismatched_passwords_shows_the_error(client, django_user_model):
    response = client.post(
        reverse("signup"),
        {"username": "dave", "password1": "correct-horse-42", "password2": "other-horse-42"},
    )
    assert response.status_code == 200
    assert b"didn" in response.content  # "The two password fields didn't match."
    assert not django_user_model.objects.filter(username="dave").exists()


def test_wrong_password_does_not_log_in(client, user):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert not response.context["user"].is_authenticated


def test_pages_render_for_anonymous_users(client):
    for name in ("home", "login", "signup"):
        assert client.get(reverse(name)).status_code == 200


def test_token_page_needs_a_login(client):
    response = client.get(reverse("token"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
