"""Users, memberships, regulator scopes, API keys and authentication."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.identity.models import ApiKey, ApiScope, Membership, RegulatorScope, Role, User
from tradeloop.identity.repository import IdentityRepository, MemberRepository, normalise_username
from tradeloop.kit import security
from tradeloop.kit.errors import Conflict, Forbidden, TooManyRequests, Unauthorized
from tradeloop.kit.ids import uuid7
from tradeloop.kit.tenancy import Action, Principal, Region
from tradeloop.kit.validation import Errors, clean

MIN_PASSWORD_LENGTH = 8


def _check_new_user(errors: Errors, repo: IdentityRepository, *, username: str, display_name: str,
                    password: str) -> None:
    if errors.required("username", username, "用户名"):
        errors.pattern("username", username, r"[A-Za-z0-9._@-]{2,100}",
                       "use 2-100 letters, digits, '.', '_', '@' or '-'",
                       "用户名为2-100位字母、数字或 . _ @ -")
        if repo.user_by_username(username) is not None:
            errors.add("username", "is already taken", "用户名已被使用")
    errors.required("display_name", display_name, "姓名")
    errors.max_len("display_name", display_name, 200)
    if len(password or "") < MIN_PASSWORD_LENGTH:
        errors.add("password", f"must be at least {MIN_PASSWORD_LENGTH} characters",
                   f"密码至少{MIN_PASSWORD_LENGTH}位")


def _insert_user(session: Session, *, username: str, display_name: str, password: str, email: str | None,
                 is_platform_admin: bool = False) -> User:
    """A validated new user, flushed: memberships reference it and no ORM relationship orders the inserts."""
    user = User(id=uuid7(), username=normalise_username(username), display_name=display_name.strip(),
                email=clean(email), password_hash=security.hash_password(password),
                is_platform_admin=is_platform_admin)
    session.add(user)
    session.flush()
    return user


def create_user(session: Session, *, principal: Principal, username: str, display_name: str, password: str,
                email: str | None = None, is_platform_admin: bool = False) -> User:
    """A user without memberships (platform admins; the CLI)."""
    principal.require(Action.PLATFORM)
    repo = IdentityRepository(session)
    errors = Errors()
    _check_new_user(errors, repo, username=username, display_name=display_name, password=password)
    errors.raise_if_any()
    user = _insert_user(session, username=username, display_name=display_name, password=password, email=email,
                        is_platform_admin=is_platform_admin)
    audit.record(session, principal=principal, action="user.create", entity_type="user", entity_id=user.id,
                 after=user, enterprise_id=None)
    return user


def grant_membership(session: Session, *, principal: Principal, user: User, enterprise_id: uuid.UUID,
                     role: Role) -> Membership:
    """Give an existing user a role in an enterprise (platform admins)."""
    principal.require(Action.PLATFORM)
    existing = [m for m, _e in IdentityRepository(session).memberships_of(user.id) if m.enterprise_id == enterprise_id]
    if existing:
        raise Conflict("The user is already a member of this enterprise.")
    membership = Membership(enterprise_id=enterprise_id, id=uuid7(), user_id=user.id, role=Role(role).value)
    session.add(membership)
    audit.record(session, principal=principal, action="membership.create", entity_type="membership",
                 entity_id=membership.id, after=membership, enterprise_id=enterprise_id)
    return membership


def set_regulator_scope(session: Session, *, principal: Principal, user: User, authority: str, province: str,
                        city: str | None = None, district: str | None = None) -> RegulatorScope:
    """Make a user a regulator reading aggregates of one region (platform admins)."""
    principal.require(Action.PLATFORM)
    errors = Errors()
    errors.required("authority", authority, "监管机构")
    errors.required("province", province, "省份")
    errors.raise_if_any()
    scope = RegulatorScope(id=uuid7(), user_id=user.id, authority=authority.strip(), province=province.strip(),
                           city=clean(city), district=clean(district))
    session.add(scope)
    audit.record(session, principal=principal, action="regulator_scope.create", entity_type="regulator_scope",
                 entity_id=scope.id, after=scope, enterprise_id=None)
    return scope


def add_member(session: Session, *, principal: Principal, username: str, display_name: str, password: str,
               role: Role, email: str | None = None) -> tuple[Membership, User]:
    """Create a user and give it a role in the admin's own enterprise."""
    enterprise_id = principal.tenant(Action.MANAGE)
    return _new_member(session, principal, enterprise_id, username=username, display_name=display_name,
                       password=password, role=role, email=email)


def add_enterprise_admin(session: Session, *, principal: Principal, enterprise_id: uuid.UUID, username: str,
                         display_name: str, password: str, email: str | None = None) -> tuple[Membership, User]:
    """A new user as admin of any enterprise (platform admins: the first admin of a new tenant)."""
    principal.require(Action.PLATFORM)
    from tradeloop.enterprises.repository import EnterpriseRepository

    EnterpriseRepository(session, principal).get(enterprise_id)
    return _new_member(session, principal, enterprise_id, username=username, display_name=display_name,
                       password=password, role=Role.ADMIN, email=email)


def _new_member(session: Session, principal: Principal, enterprise_id: uuid.UUID, *, username: str,
                display_name: str, password: str, role: Role, email: str | None) -> tuple[Membership, User]:
    repo = IdentityRepository(session)
    errors = Errors()
    _check_new_user(errors, repo, username=username, display_name=display_name, password=password)
    errors.one_of("role", role, [r.value for r in Role], "角色")
    errors.raise_if_any()
    user = _insert_user(session, username=username, display_name=display_name, password=password, email=email)
    membership = Membership(enterprise_id=enterprise_id, id=uuid7(), user_id=user.id, role=Role(role).value)
    session.add(membership)
    audit.record(session, principal=principal, action="member.add", entity_type="membership",
                 entity_id=membership.id, after={**audit.snapshot(membership), "username": user.username},
                 enterprise_id=enterprise_id)
    return membership, user


def _guard_last_admin(members: MemberRepository, membership: Membership) -> None:
    if membership.role == Role.ADMIN and members.admin_count() <= 1:
        raise Conflict("An enterprise keeps at least one admin.", message_zh="企业至少保留一名管理员")


def change_role(session: Session, *, principal: Principal, membership_id: uuid.UUID, role: Role) -> Membership:
    principal.tenant(Action.MANAGE)
    members = MemberRepository(session, principal)
    membership, _user = members.member(membership_id, for_update=True)
    before = audit.snapshot(membership)
    if membership.role != role:
        _guard_last_admin(members, membership)
        membership.role = Role(role).value
    session.flush()
    audit.record(session, principal=principal, action="member.change_role", entity_type="membership",
                 entity_id=membership.id, before=before, after=membership)
    return membership


def remove_member(session: Session, *, principal: Principal, membership_id: uuid.UUID) -> None:
    principal.tenant(Action.MANAGE)
    members = MemberRepository(session, principal)
    membership, user = members.member(membership_id, for_update=True)
    _guard_last_admin(members, membership)
    before = {**audit.snapshot(membership), "username": user.username}
    session.delete(membership)
    audit.record(session, principal=principal, action="member.remove", entity_type="membership",
                 entity_id=membership.id, before=before)


def change_password(session: Session, *, principal: Principal, current_password: str,
                    new_password: str) -> User:
    """A logged-in user changes their own password (the current one is asked again)."""
    if principal.user_id is None:
        raise Forbidden("Only a logged-in user has a password.", message_zh="仅登录用户可修改密码")
    user = IdentityRepository(session).user(principal.user_id, for_update=True)
    errors = Errors()
    if not security.verify_password(user.password_hash, current_password):
        errors.add("current_password", "is not your current password", "当前密码不正确")
    if len(new_password or "") < MIN_PASSWORD_LENGTH:
        errors.add("new_password", f"must be at least {MIN_PASSWORD_LENGTH} characters",
                   f"密码至少{MIN_PASSWORD_LENGTH}位")
    elif new_password == current_password:
        errors.add("new_password", "must differ from the current password", "新密码不能与当前密码相同")
    errors.raise_if_any()
    user.password_hash = security.hash_password(new_password)
    audit.record(session, principal=principal, action="user.password_change", entity_type="user",
                 entity_id=user.id, after={"username": user.username}, enterprise_id=principal.enterprise_id)
    return user


def create_api_key(session: Session, *, principal: Principal, name: str, scope: ApiScope) -> tuple[ApiKey, str]:
    """A new key for the admin's enterprise; the key itself is returned once and never stored."""
    enterprise_id = principal.tenant(Action.MANAGE)
    errors = Errors()
    errors.required("name", name, "名称")
    errors.max_len("name", name, 100)
    errors.one_of("scope", scope, [s.value for s in ApiScope], "权限范围")
    errors.raise_if_any()
    key, prefix, key_hash = security.new_api_key()
    row = ApiKey(enterprise_id=enterprise_id, id=uuid7(), name=name.strip(), prefix=prefix, key_hash=key_hash,
                 scope=ApiScope(scope).value, created_by_user_id=principal.user_id)
    session.add(row)
    audit.record(session, principal=principal, action="api_key.create", entity_type="api_key",
                 entity_id=row.id, after=row)
    return row, key


def revoke_api_key(session: Session, *, principal: Principal, api_key_id: uuid.UUID) -> ApiKey:
    principal.tenant(Action.MANAGE)
    row = MemberRepository(session, principal).api_key(api_key_id)
    before = audit.snapshot(row)
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    audit.record(session, principal=principal, action="api_key.revoke", entity_type="api_key",
                 entity_id=row.id, before=before, after=row)
    return row


# --- authentication -----------------------------------------------------------------------------


def _throttle_keys(username: str, client: str | None) -> list[str]:
    keys = [f"user:{username.strip().lower()}"]
    if client:
        keys.append(f"addr:{client}")
    return keys


def authenticate(session: Session, *, username: str, password: str, client: str | None, max_failures: int,
                 window_seconds: int) -> User:
    """Check a password. Failures are recorded (the caller commits them); after ``max_failures`` in the
    window, per user name or per client address, every attempt is refused until the window passes."""
    repo = IdentityRepository(session)
    now = datetime.now(UTC)
    since = now - timedelta(seconds=window_seconds)
    keys = _throttle_keys(username, client)
    repo.lock_throttle_keys(keys)
    if any(repo.count_failures(k, since) >= max_failures for k in keys):
        raise TooManyRequests("Too many failed logins; try again later.", message_zh="登录失败次数过多，请稍后再试",
                              retry_after=window_seconds)
    user = repo.user_by_username(username.strip())
    if user is None:
        security.burn_password_check(password)
    # The hash is checked before is_active, so an inactive account answers as slowly as an active one.
    ok = user is not None and security.verify_password(user.password_hash, password) and user.is_active
    if not ok:
        from tradeloop.identity.models import LoginFailure

        for k in keys:
            session.add(LoginFailure(throttle_key=k, at=now))
        raise Unauthorized("Wrong user name or password.", message_zh="用户名或密码错误")
    repo.clear_failures(keys[0])
    repo.prune_failures(now - timedelta(days=1))
    return user


def principal_for_user(session: Session, *, user_id: uuid.UUID, enterprise_id: uuid.UUID | None) -> Principal | None:
    """The principal of a logged-in user acting for ``enterprise_id`` (or their first membership)."""
    repo = IdentityRepository(session)
    user = repo.user(user_id)
    if user is None or not user.is_active:
        return None
    memberships = repo.memberships_of(user.id)
    chosen = next((m for m, _e in memberships if m.enterprise_id == enterprise_id), None)
    if chosen is None and memberships:
        chosen = memberships[0][0]
    scope = repo.regulator_scope(user.id)
    return Principal(
        kind="user",
        label=user.username,
        user_id=user.id,
        enterprise_id=chosen.enterprise_id if chosen else None,
        role=chosen.role if chosen else None,
        is_platform_admin=user.is_platform_admin,
        regulator_region=Region(scope.province, scope.city, scope.district) if scope else None,
    )


def principal_for_api_key(session: Session, *, key: str) -> Principal | None:
    row = IdentityRepository(session).api_key_by_hash(security.hash_api_key(key))
    if row is None or row.revoked_at is not None:
        return None
    return Principal(kind="api_key", label=f"api-key:{row.name}", api_key_id=row.id,
                     enterprise_id=row.enterprise_id, api_scope=row.scope)
