"""Scopes (docs/contract.md, Scopes) and who holds them."""

from enum import StrEnum


class Scope(StrEnum):
    ME = "me"
    PRODUCTS_READ = "products:read"
    PRODUCTS_WRITE = "products:write"
    ADMIN = "admin"


SCOPE_DESCRIPTIONS: dict[str, str] = {
    Scope.ME: "Read and change your own account",
    Scope.PRODUCTS_READ: "Read products",
    Scope.PRODUCTS_WRITE: "Create, change and delete products (admins)",
    Scope.ADMIN: "Manage users (admins)",
}

USER_SCOPES = frozenset({Scope.ME, Scope.PRODUCTS_READ})
ADMIN_SCOPES = USER_SCOPES | {Scope.PRODUCTS_WRITE, Scope.ADMIN}


def scopes_for(*, is_active: bool, is_admin: bool) -> frozenset[str]:
    if not is_active:
        return frozenset()
    return ADMIN_SCOPES if is_admin else USER_SCOPES


def parse_scope_param(raw: str | None) -> frozenset[str] | None:
    """RFC 6749 §3.3 space-separated scopes; None (or empty, as Swagger UI sends) means all."""
    if raw is None or not raw.strip():
        return None
    return frozenset(raw.split())


def format_scopes(scopes: frozenset[str]) -> str:
    order = list(Scope)
    return " ".join(sorted(scopes, key=lambda s: order.index(Scope(s)) if s in order else 99))
