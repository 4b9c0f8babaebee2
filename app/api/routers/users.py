"""/users: registration, the caller's own account and sessions, and admin user management."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.api.deps import (
    Accounts,
    Admin,
    Me,
    Origin,
    Registrations,
    Sessions,
    Users,
    documented_requirement,
    require,
)
from app.api.schemas.users import (
    AdminUserUpdate,
    PasswordChange,
    SessionOut,
    UserCreate,
    UserOut,
    UserPage,
    UserUpdate,
    user_json,
)
from app.core.errors import NotFound
from app.users.scopes import Scope

router = APIRouter(prefix="/users", tags=["users"])

UserId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post("", status_code=201, responses={403: {}, 409: {}, 429: {}, 503: {}})
async def register(body: UserCreate, registration: Registrations, origin: Origin) -> UserOut:
    user = await registration.register(
        username=body.username,
        password=body.password,
        email=body.email,
        full_name=body.full_name,
        ip=origin.ip,
    )
    return UserOut.model_validate(user)


@router.get("/me", response_model=UserOut, openapi_extra=documented_requirement(Scope.ME))
async def read_me(request: Request) -> Response:
    """Answered from the record authentication already has: no query when it was cached. The
    hottest authenticated read: it calls the security dependency itself, as FastAPI's
    dependency injection of it cost a quarter of this route's time (README, Performance)."""
    principal = await require(request, Scope.ME)
    return Response(user_json(principal.user), media_type="application/json")


@router.patch("/me")
async def update_me(body: UserUpdate, principal: Me, accounts: Accounts) -> UserOut:
    user = await accounts.update_profile(principal.user_id, body.model_dump(exclude_unset=True))
    return UserOut.model_validate(user)


@router.post("/me/password", status_code=204, responses={400: {}})
async def change_password(
    body: PasswordChange, principal: Me, accounts: Accounts, origin: Origin
) -> None:
    await accounts.change_password(
        principal.user_id,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_session=principal.session_id,
        ip=origin.ip,
    )


@router.get("/me/sessions")
async def list_my_sessions(principal: Me, sessions: Sessions) -> list[SessionOut]:
    return [
        SessionOut(
            id=str(s.id),
            created_at=s.created_at,
            last_used_at=s.last_used_at,
            user_agent=s.user_agent,
            ip=s.ip,
            current=s.id == principal.session_id,
        )
        for s in await sessions.list_live(principal.user_id)
    ]


@router.delete("/me/sessions/{session_id}", status_code=204, responses={404: {}})
async def end_my_session(session_id: uuid.UUID, principal: Me, sessions: Sessions) -> None:
    if not await sessions.end(session_id, user_id=principal.user_id):
        raise NotFound


@router.get("")
async def list_users(
    _: Admin,
    users: Users,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> UserPage:
    items, total = await users.page(limit=limit, offset=offset)
    return UserPage(
        items=[UserOut.model_validate(u) for u in items], total=total, limit=limit, offset=offset
    )


@router.get("/{user_id}", responses={404: {}})
async def read_user(user_id: UserId, _: Admin, users: Users) -> UserOut:
    user = await users.get(user_id)
    if user is None:
        raise NotFound
    return UserOut.model_validate(user)


@router.patch("/{user_id}", responses={404: {}})
async def update_user(
    user_id: UserId, body: AdminUserUpdate, _: Admin, accounts: Accounts
) -> UserOut:
    user = await accounts.set_flags(user_id, is_active=body.is_active, is_admin=body.is_admin)
    return UserOut.model_validate(user)
