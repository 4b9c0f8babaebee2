"""/users: registration, the caller's own account and sessions, and admin user management."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.api.deps import (
    Accounts,
    Admin,
    Me,
    Origin,
    Registrations,
    Sessions,
    Users,
)
from app.api.presolved_route import PresolvedRoute
from app.api.ready_json import ReadyJSON
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

router = APIRouter(prefix="/users", tags=["users"], route_class=PresolvedRoute)

UserId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post("", status_code=201, responses={403: {}, 409: {}, 429: {}, 503: {}})
async def register(body: UserCreate, registration: Registrations, origin: Origin) -> UserOut:
    """Creates an account, when self-service registration is open (a limited number per address)."""
    user = await registration.register(
        username=body.username,
        password=body.password,
        email=body.email,
        full_name=body.full_name,
        ip=origin.ip,
    )
    return UserOut.model_validate(user)


@router.get("/me", response_model=UserOut)
async def read_me(principal: Me) -> Response:
    """Your own account."""
    # Answered from the record authentication already holds (no query when it was cached), as
    # JSON made once per version of the record: FastAPI sends a returned Response as it is.
    return ReadyJSON(user_json(principal.user))


@router.patch("/me", responses={400: {}, 429: {}})
async def update_me(body: UserUpdate, principal: Me, accounts: Accounts, origin: Origin) -> UserOut:
    """Changes your email address or full name; a field left out stays as it is. A new
    `email` needs `current_password` and starts unverified; the old address, if it was
    verified, gets a notice."""
    changes = body.model_dump(exclude_unset=True, exclude={"current_password"})
    user = await accounts.update_profile(
        principal.user_id, changes, current_password=body.current_password, ip=origin.ip
    )
    return UserOut.model_validate(user)


@router.post("/me/password", status_code=204, responses={400: {}})
async def change_password(
    body: PasswordChange, principal: Me, accounts: Accounts, origin: Origin
) -> None:
    """Changes your password. Your other sessions end; the one making this request stays."""
    await accounts.change_password(
        principal.user_id,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_session=principal.session_id,
        ip=origin.ip,
    )


@router.get("/me/sessions")
async def list_my_sessions(principal: Me, sessions: Sessions) -> list[SessionOut]:
    """Your signed-in sessions that have not ended, newest first; `current` marks the one
    whose token made this request."""
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
    """Ends one of your sessions (signs that device out)."""
    if not await sessions.end(session_id, user_id=principal.user_id):
        raise NotFound


@router.get("")
async def list_users(
    _: Admin,
    users: Users,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> UserPage:
    """Every account, in the order they were made, `limit` at a time from `offset` (admins
    only); `total` counts them all."""
    items, total = await users.page(limit=limit, offset=offset)
    page = {"items": items, "total": total, "limit": limit, "offset": offset}
    return UserPage.model_validate(page, from_attributes=True)


@router.get("/{user_id}", responses={404: {}})
async def read_user(user_id: UserId, _: Admin, users: Users) -> UserOut:
    """One account (admins only)."""
    user = await users.get(user_id)
    if user is None:
        raise NotFound
    return UserOut.model_validate(user)


@router.patch("/{user_id}", responses={404: {}})
async def update_user(
    user_id: UserId, body: AdminUserUpdate, _: Admin, accounts: Accounts
) -> UserOut:
    """Activates or deactivates an account, or makes it an admin or not (admins only)."""
    user = await accounts.set_flags(user_id, is_active=body.is_active, is_admin=body.is_admin)
    return UserOut.model_validate(user)
