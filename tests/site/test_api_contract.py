"""The OpenAPI schema tells the truth: it validates, every operation is declared through
``crier_site.api.operations.api_operation`` (so its errors, pages and query are documented and
checked), and the app answers the way the schema says. The live check of all of it is the
schemathesis run in tests/e2e/test_api_fuzz.py; these are the quick ones."""

from __future__ import annotations

import json

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from crier_site.api.operations import operation_spec_of
from tests.api_helpers import error_of
from tests.factories import make_corpus, make_record

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def api_views() -> list[tuple[str, type]]:
    """(route, view class) of every /api/v1/ endpoint."""
    found = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "view_class"):
                route = prefix + str(pattern.pattern)
                if route.startswith("api/v1/"):
                    found.append((route, pattern.callback.view_class))

    walk(get_resolver().url_patterns, "")
    return found


def test_spectacular_validates_the_schema_without_warnings(tmp_path) -> None:
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert yaml.safe_load(target.read_text())["paths"]


def test_every_api_operation_is_declared_with_api_operation() -> None:
    views = api_views()
    assert len(views) >= 10
    undeclared = [
        f"{method.upper()} /{route} ({view.__name__})"
        for route, view in views
        for method in HTTP_METHODS
        if hasattr(view, method) and operation_spec_of(view, method) is None
    ]
    assert not undeclared, "Declare these with crier_site.api.operations.api_operation: " + (
        ", ".join(undeclared)
    )


def test_every_operation_documents_its_errors_in_the_envelope(schema) -> None:
    envelope = "#/components/schemas/ErrorEnvelope"
    assert schema["components"]["schemas"]["ErrorEnvelope"]["required"] == ["error"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            errors = {code for code in responses if code.startswith(("4", "5"))}
            assert "400" in errors, (method, path)
            assert "401" in errors, (method, path)  # the token endpoint: wrong credentials
            if path == "/api/v1/auth/token/":  # the one operation that reads no credentials
                assert operation["security"] == []
            if "{" in path:
                assert "404" in errors, (method, path)
            for code in errors:
                body = responses[code]["content"]["application/json"]["schema"]
                assert body == {"$ref": envelope}, (method, path, code)


def test_uploads_are_binary_and_lists_are_pages(schema) -> None:
    components = schema["components"]["schemas"]
    images = schema["paths"]["/api/v1/corpora/{corpus_id}/images/"]
    upload = images["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data"]
    upload_schema = components[upload["multipart/form-data"]["schema"]["$ref"].split("/")[-1]]
    assert upload_schema["properties"]["images"]["items"] == {"type": "string", "format": "binary"}
    assert "413" in images["post"]["responses"]

    listing = images["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page = components[listing["$ref"].split("/")[-1]]
    assert {"count", "next", "previous", "results"} <= set(page["properties"])
    assert {p["name"] for p in images["get"]["parameters"]} >= {"page", "page_size"}

    search = schema["paths"]["/api/v1/corpora/{corpus_id}/search/"]["post"]
    by_file = search["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    image = components[by_file.split("/")[-1]]["properties"]["image"]
    assert image["format"] == "binary"
    assert "409" in search["responses"] and "429" in search["responses"]


def test_request_strings_say_what_drf_refuses(schema) -> None:
    create = schema["components"]["schemas"]["CorpusCreateRequest"]["properties"]
    assert create["name"]["minLength"] == 1
    # Not only whitespace, and no NUL character anywhere.
    assert create["name"]["pattern"] == r"^[^\x00]*[^\s\x00][^\x00]*$"
    token = schema["components"]["schemas"]["TokenCreateRequest"]["properties"]
    assert token["username"]["minLength"] == 1 and token["password"]["minLength"] == 1


@pytest.mark.django_db
class TestAnswersMatchTheSchema:
    @pytest.fixture
    def alice(self, user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    def test_a_query_string_past_128_kib_is_a_414_in_the_envelope(self, alice) -> None:
        url = reverse("api:text-search")
        response = alice.get(url, {"q": "x" * (128 * 1024)})
        assert response.status_code == 414 and error_of(response)["code"] == "uri_too_long"
        assert alice.get(url, {"q": "x" * 5000}).status_code == 400  # past q's maxLength

    def test_more_files_than_max_items_is_a_400(self, alice, user, settings) -> None:
        from tests.api_helpers import upload_file
        from tests.factories import image_bytes

        settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
        corpus = make_corpus(user)
        files = [upload_file(f"{n}.png", image_bytes()) for n in range(3)]
        response = alice.post(reverse("api:image-list", args=[corpus.pk]), {"images": files})
        assert response.status_code == 400 and error_of(response)["code"] == "too_many_files"

    def test_unknown_and_malformed_query_parameters_are_400(self, alice, user) -> None:
        corpora = reverse("api:corpus-list")
        assert alice.get(corpora + "?public=true").status_code == 200
        for query in ("?public=null", "?public=", "?public=1", "?colour=red", "?format=api"):
            response = alice.get(corpora + query)
            assert response.status_code == 400, query
            assert error_of(response)["code"] == "invalid"
        unknown = error_of(alice.get(corpora + "?colour=red"))
        assert unknown["fields"] == {"colour": ["Unknown query parameter."]}

    def test_pages_are_validated_and_a_page_past_the_end_is_404(self, alice, user) -> None:
        corpus = make_corpus(user)
        for name in ("a.png", "bb.png", "ccc.png"):
            make_record(corpus, name=name)
        url = reverse("api:image-list", args=[corpus.pk])
        page = alice.get(url + "?page=2&page_size=2").json()
        assert page["count"] == 3 and len(page["results"]) == 1 and page["previous"]
        for query in ("?page=0", "?page=last", "?page_size=501", "?page_size=", "?page=1.5"):
            assert alice.get(url + query).status_code == 400, query
        assert error_of(alice.get(url + "?page=3&page_size=2"))["code"] == "not_found"

    def test_json_values_of_the_wrong_type_are_400_not_coerced(self, alice, user) -> None:
        corpora = reverse("api:corpus-list")
        for body in (
            {"name": 5},
            {"name": "ok", "expires_in_minutes": "5"},
            {"name": "ok", "expires_in_minutes": 5.0},
            {"name": "ok", "expires_in_minutes": True},
        ):
            response = alice.post(corpora, body, format="json")
            assert response.status_code == 400, body
        corpus = make_corpus(user)
        delete = reverse("api:image-bulk-delete", args=[corpus.pk])
        response = alice.post(delete, {"ids": ["1"]}, format="json")
        assert response.status_code == 400 and "ids" in error_of(response)["fields"]
        too_big = alice.post(delete, {"ids": [2**64]}, format="json")
        assert too_big.status_code == 400

    def test_nul_characters_in_free_metadata_are_stored_not_a_database_error(self, alice, user):
        """Schema-valid (a schema cannot forbid them in a free-form object): taken, as U+FFFD
        (tests/corpora/test_metadata.py has the details)."""
        corpus = make_corpus(user)
        record = make_record(corpus)
        url = reverse("api:image-detail", args=[corpus.pk, record.pk])
        for metadata in ({"a\x00": 1}, {"a": ["b\x00"]}, {"a": {"b": "c\x00"}}):
            response = alice.patch(url, {"metadata": metadata}, format="json")
            assert response.status_code == 200, metadata
            assert "\x00" not in json.dumps(response.json()["metadata"], ensure_ascii=False)
        assert alice.patch(url, {"metadata": {"a": "b"}}, format="json").status_code == 200

    def test_blank_names_and_nul_characters_are_400(self, alice) -> None:
        corpora = reverse("api:corpus-list")
        for name in ("", "   ", "a\x00b"):
            assert alice.post(corpora, {"name": name}, format="json").status_code == 400

    def test_an_unknown_api_address_is_a_json_404(self, alice) -> None:
        response = alice.get("/api/v1/corpora/abc/")
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
        page = APIClient().get("/no-such-page/")
        assert page.status_code == 404 and page["Content-Type"].startswith("text/html")

    def test_token_endpoint_takes_json_only(self, user) -> None:
        client = APIClient()
        url = reverse("api:token")
        form = client.post(url, {"username": "alice", "password": "a-long-passphrase-1"})
        assert form.status_code == 415
        response = client.post(
            url, {"username": "alice", "password": "a-long-passphrase-1"}, format="json"
        )
        assert response.status_code == 200 and response.json()["token"]


@pytest.mark.django_db
def test_the_schema_is_served_as_json_on_request_and_yaml_by_default(client) -> None:
    as_json = client.get("/api/schema/?format=json")
    assert as_json["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert as_json.json()["openapi"].startswith("3.")
    assert client.get("/api/schema.json").json() == as_json.json()
    as_yaml = client.get("/api/schema/")
    assert as_yaml["Content-Type"].startswith("application/vnd.oai.openapi;")
    assert yaml.safe_load(as_yaml.content)["paths"] == as_json.json()["paths"]


def test_binary_answers_are_bytes_for_generated_clients(schema) -> None:
    for path in (
        "/api/v1/corpora/{corpus_id}/images/{image_id}/file/",
        "/api/v1/corpora/{corpus_id}/images/{image_id}/thumbnail/",
        "/api/v1/corpora/{corpus_id}/export/",
    ):
        content = schema["paths"][path]["get"]["responses"]["200"]["content"]
        assert content["application/octet-stream"]["schema"] == {
            "type": "string",
            "format": "binary",
        }
        assert len(content) == 2  # and the type really sent


def test_anonymous_operations_inherit_optional_security(schema) -> None:
    assert schema["security"][-1] == {}
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, method in [
        ("/api/v1/search/", "get"),
        ("/api/v1/corpora/{corpus_id}/search/", "post"),
    ]:
        assert "security" not in schema["paths"][path][method]  # usable without credentials
    create = schema["paths"]["/api/v1/corpora/"]["post"]
    assert create["security"] and {} not in create["security"]


def test_try_it_out_prefills_valid_examples_not_made_up_values(schema) -> None:
    """What Swagger UI pre-fills (tests/e2e/test_swagger_try_it_out.py clicks through it)."""
    components = schema["components"]["schemas"]
    by_file = components["SearchImageRequest"]["properties"]
    assert by_file["region"]["example"] == "0,0,1,1" and by_file["min_score"]["example"] == -1
    assert by_file["tags"]["example"] == [] and by_file["taken_after"]["example"] == ""
    assert components["SearchSimilarRequest"]["properties"]["image_id"]["example"] == 1
    assert components["ImageUploadRequest"]["properties"]["metadata"]["example"] == {}
    token = schema["paths"]["/api/v1/auth/token/"]["post"]["requestBody"]["content"]
    assert set(next(iter(token["application/json"]["examples"].values()))["value"]) == {
        "username",
        "password",
    }


@pytest.mark.django_db
def test_a_blank_date_bound_is_no_bound(client, user) -> None:
    api = APIClient()
    api.force_authenticate(user)
    corpus = make_corpus(user)
    response = api.get(
        reverse("api:search", args=[corpus.pk]), {"q": "x", "taken_after": "", "label": ""}
    )
    assert response.status_code == 200, response.content
