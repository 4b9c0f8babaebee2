"""/docs works with no internet, and its Authorize dialog knows the password flow."""

import re

import pytest

# Every test here also checks that no response it saw contained a password hash.
pytestmark = pytest.mark.usefixtures("responses")

SCOPES = {"me", "products:read", "products:write", "admin"}


async def test_docs_load_swagger_ui_from_the_app_itself(client):
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "SwaggerUIBundle" in html
    assert "http://" not in html
    assert "https://" not in html
    scripts = re.findall(r'<script[^>]*\ssrc="([^"]+)"', html)
    styles = re.findall(r'<link[^>]*\shref="([^"]+\.css)"', html)
    assert scripts, html
    assert styles, html
    for url in scripts + styles:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
    bundle = await client.get(scripts[0])
    assert "SwaggerUIBundle" in bundle.text


async def test_docs_oauth2_redirect_page_is_served_without_a_cdn(client):
    response = await client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "https://" not in response.text
    assert "http://" not in response.text


async def test_openapi_declares_the_password_flow_with_token_url_and_the_four_scopes(client):
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schemes = response.json()["components"]["securitySchemes"]
    password_flows = [
        s["flows"]["password"]
        for s in schemes.values()
        if s.get("type") == "oauth2" and "password" in s.get("flows", {})
    ]
    assert len(password_flows) == 1
    flow = password_flows[0]
    assert flow["tokenUrl"] == "token"
    assert set(flow["scopes"]) == SCOPES


async def test_openapi_documents_the_token_form_and_its_oauth_errors(client):
    spec = (await client.get("/openapi.json")).json()
    token = spec["paths"]["/token"]["post"]
    form = token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    fields = form.get("properties")
    if fields is None:  # a $ref to components
        name = form["$ref"].rsplit("/", 1)[-1]
        fields = spec["components"]["schemas"][name]["properties"]
    assert {"grant_type", "username", "password", "scope"} <= set(fields)
    assert "400" in token["responses"]
    assert "422" not in token["responses"]  # /token answers 400 invalid_request, never 422


async def test_openapi_asks_for_products_write_on_product_writes(client):
    spec = (await client.get("/openapi.json")).json()
    post = spec["paths"]["/products"]["post"]
    required = {
        scope for entry in post["security"] for scopes in entry.values() for scope in scopes
    }
    assert "products:write" in required
    get = spec["paths"]["/products"]["get"]
    required = {scope for entry in get["security"] for scopes in entry.values() for scope in scopes}
    assert "products:read" in required


# Words of the implementation, not of the API: notes with them belong in comments.
IMPLEMENTATION_WORDS = ("README", "FastAPI", "dependency injection", "memo", "req/s", "worker")


async def test_every_operation_is_described_for_api_users_not_for_maintainers(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            text = f"{operation.get('summary', '')} {operation.get('description', '')}"
            for word in IMPLEMENTATION_WORDS:
                assert word not in text, (method, path, text)
