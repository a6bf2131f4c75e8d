"""The operator's price list as stored: one row a (range, caller origin), validated by the
engine's own ``PriceListEntry`` before it is written, every change audited."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from rating.price_list import PriceListEntry
from smartnumbers import audit
from smartnumbers.audit import Actor
from smartnumbers.db import utcnow
from smartnumbers.models import PriceListItem, SmartNumber
from smartnumbers.money import decimal_text
from smartnumbers.phone import CallerOrigin, RangeClass


def _snapshot(item: PriceListItem) -> dict[str, str]:
    return {
        "interconnection_per_minute": decimal_text(item.interconnection_per_minute),
        "owner_per_minute": decimal_text(item.owner_per_minute),
        "payout_share_percent": decimal_text(item.payout_share_percent),
    }


def set_price(
    session: Session,
    actor: Actor,
    range_class: RangeClass,
    origin: CallerOrigin,
    *,
    interconnection_per_minute: Decimal,
    owner_per_minute: Decimal = Decimal(0),
    payout_share_percent: Decimal = Decimal(0),
) -> PriceListItem:
    """Set the amounts calls of one range from one origin are priced by (new or replaced)."""
    PriceListEntry(
        range_class=range_class, origin=origin, interconnection_per_minute=interconnection_per_minute,
        owner_per_minute=owner_per_minute, payout_share_percent=payout_share_percent,
    )
    item = session.scalar(select(PriceListItem).where(PriceListItem.range_class == range_class,
                                                      PriceListItem.origin == origin))
    before = _snapshot(item) if item else None
    if item is None:
        item = PriceListItem(range_class=range_class, origin=origin)
        session.add(item)
    item.interconnection_per_minute = interconnection_per_minute
    item.owner_per_minute = owner_per_minute
    item.payout_share_percent = payout_share_percent
    item.updated_at = utcnow()
    item.updated_by = str(actor)
    session.flush()
    audit.record(session, actor, account_id=None, entity="price_list", entity_id=f"{range_class}/{origin}",
                 action="set", before=before, after=_snapshot(item))
    return item


def price_items(session: Session) -> list[PriceListItem]:
    return list(session.scalars(select(PriceListItem).order_by(PriceListItem.range_class, PriceListItem.origin)))


def missing_entries(session: Session) -> list[tuple[RangeClass, CallerOrigin]]:
    """The (range, caller origin) pairs without a price whose calls are stored but not rated
    until the entry is set (``rate`` then rates them): every pair while the list is empty,
    afterwards those of the ranges the platform has numbers in."""
    present = {(item.range_class, item.origin) for item in price_items(session)}
    used = set(session.scalars(select(SmartNumber.range_class).distinct())) if present else set(RangeClass)
    return [(range_class, origin) for range_class in RangeClass if range_class in used
            for origin in CallerOrigin if (range_class, origin) not in present]
