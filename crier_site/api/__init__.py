"""The apps' API framework, one job per module (docs/api.md shows how to declare an endpoint):

- ``operations``: ``api_operation``, the one declaration of an /api/v1/ view method;
- ``validation``: the query string and body checks it runs before the method;
- ``pagination``: pages of results;
- ``envelope``: the one error format and the DRF exception handler that answers with it;
- ``schema``: the OpenAPI view of every declared operation (``CrierAutoSchema``);
- ``fields``: fields and small serializers the apps' answers share;
- ``links``: the API URLs of an image record.

These import no app.
"""
