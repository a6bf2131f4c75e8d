"""Accounts as a tree, their users and API tokens, and which numbers each account may see."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from smartnumbers import audit
from smartnumbers.audit import Actor
from smartnumbers.db import utcnow
from smartnumbers.errors import InputError, NotFound, NotPermitted
from smartnumbers.models import ActorKind, Account, ApiToken, Language, NumberGrant, Role, SmartNumber, User
from smartnumbers.phone import parse_smart_number
from smartnumbers.validation import address_lines, plain_text, swiss_uid

TOKEN_PREFIX = "sn_"
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$")
_password_hasher = PasswordHasher()


def find_account(session: Session, name: str) -> Account:
    account = session.scalar(select(Account).where(Account.name == name))
    if account is None:
        raise InputError(f"account: no account named {name[:120]!r}")
    return account


def add_account(
    session: Session, name: str, *, parent: str | None = None, allow_international: bool = False,
    address: list[str] | None = None, vat_number: str | None = None, language: str | None = None,
) -> Account:
    clean = _free_name(session, name)
    account = Account(name=clean, allow_international=allow_international)
    if parent is not None:
        account.parent = find_account(session, parent)
        if account.parent.closed_at is not None:
            raise InputError(f"account: {parent!r} is closed")
    change_account(account, address=address, vat_number=vat_number, language=language or Language.DE.value)
    session.add(account)
    session.flush()
    return account


NOT_REGISTERED = "none"


def change_account(
    account: Account, *, address: list[str] | None = None, vat_number: str | None = None, language: str | None = None,
) -> Account:
    """Change what the account's statements print; ``None`` leaves a field as it is. A UID
    makes the account VAT-registered (its share is paid with VAT); ``none`` removes it."""
    lines = None if address is None else address_lines(address, what="address")
    uid = None if vat_number is None or vat_number.strip().lower() == NOT_REGISTERED else swiss_uid(
        vat_number, what="VAT number")
    chosen = None
    if language is not None:
        try:
            chosen = Language(language)
        except ValueError:
            choices = ", ".join(m.value for m in Language)
            raise InputError(f"language: {language[:20]!r} is not one of {choices}") from None
    if lines is not None:
        account.address = "\n".join(lines)
    if vat_number is not None:
        account.vat_number, account.vat_registered = uid, uid is not None
    if chosen is not None:
        account.language = chosen
    return account


def _free_name(session: Session, name: str) -> str:
    clean = plain_text(name, what="account name", max_length=120)
    if session.scalar(select(Account.id).where(Account.name == clean)) is not None:
        raise InputError(f"account name: {clean!r} exists already")
    return clean


def account_below(session: Session, account_id: int, wanted_id: int, *, itself: bool = True) -> Account:
    """An account of ``account_id``'s tree (itself too, unless ``itself`` is False); any other is
    ``NotFound``, like one that does not exist."""
    top = session.get(Account, account_id)
    if wanted_id not in subtree_ids(session, top) or (not itself and wanted_id == account_id):
        raise NotFound(f"account: no account {wanted_id}")
    return session.get(Account, wanted_id)


def _account_snapshot(account: Account) -> dict[str, object]:
    return {"name": account.name, "parent": account.parent.name if account.parent else None,
            "closed_at": account.closed_at.isoformat() if account.closed_at else None}


def add_sub_account(session: Session, actor: Actor, parent_id: int, name: str) -> Account:
    """A sub-account (a branch, a department) of the account, audited."""
    parent = session.get(Account, parent_id)
    account = add_account(session, name, parent=parent.name)
    audit.record(session, actor, account_id=parent.id, entity="account", entity_id=account.id, action="create",
                 before=None, after=_account_snapshot(account))
    return account


def rename_account(session: Session, actor: Actor, account: Account, name: str) -> Account:
    before = _account_snapshot(account)
    if plain_text(name, what="account name", max_length=120) != account.name:
        account.name = _free_name(session, name)
    session.flush()
    audit.record(session, actor, account_id=account.id, entity="account", entity_id=account.id, action="rename",
                 before=before, after=_account_snapshot(account))
    return account


def close_account(session: Session, actor: Actor, account: Account) -> Account:
    """Close a sub-account that owns no number and has no open sub-account: it keeps its history
    (statements, calls, audit trail); its tokens stop working at once."""
    if account.closed_at is not None:
        return account
    if session.scalar(select(SmartNumber.id).where(SmartNumber.account_id == account.id).limit(1)) is not None:
        raise InputError(f"account {account.name!r}: it owns numbers; move or remove them first")
    if any(child.closed_at is None for child in account.children):
        raise InputError(f"account {account.name!r}: close its sub-accounts first")
    before = _account_snapshot(account)
    account.closed_at = utcnow()
    session.flush()
    audit.record(session, actor, account_id=account.id, entity="account", entity_id=account.id, action="close",
                 before=before, after=_account_snapshot(account))
    return account


def ancestors(account: Account) -> list[Account]:
    chain, node = [], account.parent
    while node is not None:
        chain.append(node)
        node = node.parent
    return chain


def subtree_ids(session: Session, account: Account) -> set[int]:
    """The account and every account below it."""
    ids, frontier = {account.id}, [account.id]
    while frontier:
        children = session.scalars(select(Account.id).where(Account.parent_id.in_(frontier))).all()
        frontier = [c for c in children if c not in ids]
        ids.update(frontier)
    return ids


def visible_numbers(session: Session, account: Account) -> list[SmartNumber]:
    """What an account sees: the numbers it or its sub-accounts own, and those granted to it."""
    owned = subtree_ids(session, account)
    granted = select(NumberGrant.number_id).where(NumberGrant.account_id == account.id)
    query = select(SmartNumber).where(or_(SmartNumber.account_id.in_(owned), SmartNumber.id.in_(granted)))
    return list(session.scalars(query.order_by(SmartNumber.e164)))


def visible_number(session: Session, account_id: int, text: str) -> SmartNumber:
    """One number the account sees (``visible_numbers``), looked up by its digits; a number it
    does not see is ``NotFound``, exactly like one that does not exist or is no smart number."""
    try:
        e164 = parse_smart_number(text)
    except InputError:
        raise NotFound(f"number: no number {text[:40]!r}") from None
    number = session.scalar(select(SmartNumber).where(SmartNumber.e164 == e164))
    if number is None or not sees(session, session.get(Account, account_id), number):
        raise NotFound(f"number: no number {text[:40]!r}")
    return number


def sees(session: Session, account: Account, number: SmartNumber) -> bool:
    """The account owns the number (itself or a sub-account) or was granted it."""
    if number.account_id in subtree_ids(session, account):
        return True
    grant = select(NumberGrant.number_id).where(NumberGrant.account_id == account.id,
                                                NumberGrant.number_id == number.id)
    return session.scalar(grant) is not None


def grant_number(session: Session, account: Account, number: SmartNumber) -> None:
    """Let a sub-account see one of its parent tree's numbers."""
    if number.account_id not in {a.id for a in ancestors(account)}:
        raise InputError(
            f"grant: {number.e164} does not belong to an account above {account.name!r}; "
            "only a sub-account of the owner can be granted a number"
        )
    session.merge(NumberGrant(account_id=account.id, number_id=number.id))


def add_user(session: Session, account: Account, email: str, password: str, role: str) -> User:
    address = plain_text(email, what="email", max_length=254)
    if not address.isascii() or not _EMAIL.match(address):
        raise InputError(f"email: {address[:60]!r} is not an email address")
    if len(password) < 12 or len(password) > 256:
        raise InputError("password: 12 to 256 characters")
    user_role = _role(role)
    if session.scalar(select(User.id).where(User.email == address.lower())) is not None:
        raise InputError(f"email: a user {address.lower()!r} exists already")
    user = User(account=account, email=address.lower(), password_hash=_password_hasher.hash(password), role=user_role)
    session.add(user)
    session.flush()
    return user


def verify_password(user: User, password: str) -> bool:
    try:
        return _password_hasher.verify(user.password_hash, password)
    except Exception:
        return False


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: the secret is shown once, only its hash is kept."""

    token: ApiToken
    secret: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# The names roles had before the API's five: still understood where people type a role.
_FORMER_ROLES = {"owner": Role.ADMIN, "finance": Role.BILLING, "viewer": Role.READ_ONLY}


def _role(text: str) -> Role:
    try:
        return _FORMER_ROLES.get(text) or Role(text)
    except ValueError:
        raise InputError(f"role: {str(text)[:20]!r} is not one of {', '.join(r.value for r in Role)}") from None


def add_token(session: Session, account: Account, name: str, role: str = Role.ADMIN) -> IssuedToken:
    label = plain_text(name, what="token name", max_length=80)
    token_role = _role(role)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(account=account, name=label, prefix=secret[:10], secret_sha256=_digest(secret), role=token_role)
    session.add(token)
    session.flush()
    return IssuedToken(token, secret)


def revoke_token(session: Session, token_id: int, account_id: int | None = None) -> ApiToken:
    """Revoke a token at once (revoking it again changes nothing). A token of another account
    than ``account_id`` (when given) is ``NotFound``, like one that does not exist."""
    token = session.get(ApiToken, token_id)
    if token is None or (account_id is not None and token.account_id != account_id):
        raise NotFound(f"token: no token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


def issue_token(session: Session, issuer: Role, account_id: int, name: str, role: str) -> IssuedToken:
    """A token the holder of a token with role ``issuer`` makes for its own account: an operator
    token only by an operator."""
    if _role(role) is Role.OPERATOR and issuer is not Role.OPERATOR:
        raise NotPermitted("only an operator may issue an operator token")
    return add_token(session, session.get(Account, account_id), name, role)


def account_tokens(session: Session, account_id: int) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.account_id == account_id).order_by(ApiToken.id)))


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """Who presents a valid token: the account it acts for, as whom, with which role."""

    account_id: int
    actor: Actor
    role: Role


def token_holder(session: Session, secret: str) -> TokenHolder | None:
    """The holder of a presented secret, if it is valid and not revoked."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.secret_sha256 == _digest(secret)))
    if token is None or token.revoked_at is not None or token.account.closed_at is not None:
        return None
    return TokenHolder(token.account_id, Actor(ActorKind.TOKEN, f"{token.id}:{token.name}"), token.role)
