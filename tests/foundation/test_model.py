"""The stored model on both databases: exact money, aware UTC, immutable tariff versions, audit."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from smartnumbers import accounts, blacklist, numbers, routing, tariffs
from smartnumbers.audit import Actor
from smartnumbers.errors import InputError
from smartnumbers.models import ActorKind, AuditEntry, ChangeKind, SmartNumber, TariffVersion

OPERATOR = Actor(ActorKind.CLI, "noc")
UTC = dt.timezone.utc


@pytest.fixture
def premium(session):
    account = accounts.add_account(session, "Acme AG")
    number = numbers.add_number(session, OPERATOR, "0900 123 456", account)
    session.commit()
    return number


def test_money_round_trips_exactly(session, premium):
    for price in (Decimal("9.9999"), Decimal("0.0001"), Decimal("0.081")):
        version = tariffs.set_tariff(session, OPERATOR, premium, 1, tariffs.TariffTerms(price))
        session.commit()
        session.expire_all()
        assert session.get(TariffVersion, version.id).price_per_minute == price


def test_a_float_never_reaches_the_database(session, premium):
    premium.call_cost_cap = 399.99
    with pytest.raises(Exception, match="never a float"):
        session.commit()


def test_instants_are_aware_utc(session, premium):
    zurich_noon = dt.datetime(2026, 7, 1, 12, 0, tzinfo=routing.ZURICH)
    version = tariffs.set_tariff(session, OPERATOR, premium, 1, tariffs.TariffTerms(Decimal("1")),
                                 valid_from=zurich_noon)
    session.commit()
    session.expire_all()
    stored = session.get(TariffVersion, version.id).valid_from
    assert stored == dt.datetime(2026, 7, 1, 10, 0, tzinfo=UTC) and stored.utcoffset() == dt.timedelta(0)
    with pytest.raises(Exception, match="naive"):
        tariffs.set_tariff(session, OPERATOR, premium, 2, tariffs.TariffTerms(Decimal("1")),
                           valid_from=dt.datetime(2026, 7, 1, 12, 0))


def test_tariff_versions_are_never_edited(session, premium):
    first = tariffs.set_tariff(session, OPERATOR, premium, 7, tariffs.TariffTerms(Decimal("2.50")))
    session.commit()
    first.price_per_minute = Decimal("1.00")
    with pytest.raises(ValueError, match="immutable"):
        session.commit()
    session.rollback()
    second = tariffs.set_tariff(session, OPERATOR, premium, 7, tariffs.TariffTerms(Decimal("1.00")))
    session.commit()
    assert (first.version, second.version) == (1, 2)
    tariff = second.tariff
    assert tariffs.version_at(tariff, second.valid_from) is second
    assert tariffs.version_at(tariff, first.valid_from) is first
    # a correction: a newer version that starts earlier supersedes the old one
    correction = tariffs.set_tariff(session, OPERATOR, premium, 7, tariffs.TariffTerms(Decimal("2.40")),
                                    valid_from=first.valid_from - dt.timedelta(days=1))
    assert tariffs.version_at(tariff, first.valid_from + dt.timedelta(seconds=1)) is correction


def test_ninety_codes_at_most(session, premium):
    tariffs.set_tariff(session, OPERATOR, premium, 90, tariffs.TariffTerms(Decimal("1")))
    with pytest.raises(InputError, match="1 to 90"):
        tariffs.set_tariff(session, OPERATOR, premium, 0, tariffs.TariffTerms(Decimal("1")))


def test_fees_at_moments_and_every_n_minutes(session, premium):
    terms = tariffs.TariffTerms(Decimal("1.50"), Decimal("2.00"),
                                (tariffs.Fee(Decimal("5"), at_s=600), tariffs.Fee(Decimal("3"), every_s=600)), 30, 6)
    version = tariffs.set_tariff(session, OPERATOR, premium, 3, terms)
    session.commit()
    session.expire_all()
    assert tariffs.terms_of(session.get(TariffVersion, version.id)) == terms
    assert terms.needs_announcement  # the fee of CHF 5 exceeds CHF 2
    assert not tariffs.TariffTerms(Decimal("2.00")).needs_announcement
    with pytest.raises(InputError):
        tariffs.Fee(Decimal("1"), at_s=10, every_s=600)


@pytest.mark.parametrize(
    "range_number, terms, rule",
    [
        ("0800 123 456", tariffs.TariffTerms(Decimal("0"), Decimal("0.01")), "0800 free for the caller"),
        ("0844 123 456", tariffs.TariffTerms(Decimal("0.0811")), "084x at most 7.5 Rp./min excl. VAT"),
        ("0906 123 456", tariffs.TariffTerms(Decimal("10.0001")), "090x at most CHF 10/min"),
        ("0901 123 456", tariffs.TariffTerms(Decimal("1"), fees=(tariffs.Fee(Decimal("100.01"), every_s=600),)),
         "090x at most CHF 100 fixed charges"),
    ],
)
def test_a_refusal_names_the_rule(session, range_number, terms, rule):
    account = accounts.add_account(session, "Caps AG")
    number = numbers.add_number(session, OPERATOR, range_number, account)
    with pytest.raises(InputError) as info:
        tariffs.set_tariff(session, OPERATOR, number, 1, terms)
    assert info.value.rule == rule


def test_every_change_is_audited_with_before_and_after(session, premium):
    tariffs.set_tariff(session, OPERATOR, premium, 1, tariffs.TariffTerms(Decimal("3")))
    tariffs.set_tariff(session, OPERATOR, premium, 1, tariffs.TariffTerms(Decimal("4")))
    policy = routing.destination_policy(session, premium)
    spec = routing.parse_plan({"slots": [{"days": "mon", "start": "08:00", "end": "09:00",
                                          "destinations": [{"target": "+41446681800", "ring_timeout": 20}]}]}, policy)
    routing.store_plan(session, OPERATOR, premium, spec)
    routing.store_plan(session, OPERATOR, premium, routing.PlanSpec(()))
    entry = blacklist.add_entry(session, OPERATOR, premium.account, "+41791234567", "abuse")
    blacklist.remove_entry(session, OPERATOR, premium.account, entry.id)
    routing.schedule_change(session, OPERATOR, premium, ChangeKind.DESTINATIONS,
                            {"slot": 1, "destinations": [{"target": "+41313000000", "ring_timeout": 30}]},
                            at=dt.datetime(2030, 12, 24, 12, 0, tzinfo=UTC))
    session.commit()
    trail = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.entity, e.action) for e in trail] == [
        ("number", "create"), ("tariff", "version"), ("tariff", "version"), ("plan", "create"), ("plan", "replace"),
        ("blacklist", "create"), ("blacklist", "delete"), ("scheduled_change", "create")]
    assert all(e.actor == "noc" and e.actor_kind is ActorKind.CLI and e.at.tzinfo for e in trail)
    assert trail[2].before["price_per_minute"] == "3.00" and trail[2].after["price_per_minute"] == "4.00"
    assert trail[4].before["slots"][0]["start"] == "08:00" and trail[4].after["slots"] == []
    assert trail[6].before["pattern"] == "+41791234567" and trail[6].after is None


def test_scheduled_changes_are_checked_when_made(session, premium):
    with pytest.raises(InputError, match="premium-rate"):
        routing.schedule_change(session, OPERATOR, premium, ChangeKind.DESTINATIONS,
                                {"destinations": [{"target": "+41906000000", "ring_timeout": 20}]},
                                at=dt.datetime(2030, 12, 24, 12, 0, tzinfo=UTC))
    change = routing.schedule_change(session, OPERATOR, premium, ChangeKind.PLAN, {"plan": {"slots": []}},
                                     at=dt.datetime(2030, 12, 24, 12, 0, tzinfo=UTC))
    assert change.status.value == "pending" and change.apply_at.tzinfo is not None


def test_blacklist_entries_in_force(session, premium):
    account = premium.account
    other = numbers.add_number(session, OPERATOR, "0900 123 457", account)
    prefix = blacklist.add_entry(session, OPERATOR, account, "079*", "spam")
    temporary = blacklist.add_entry(session, OPERATOR, account, "+41446681800", "calm down", number=premium,
                                    until=dt.datetime(2030, 1, 1, tzinfo=UTC))
    assert blacklist.blocks(prefix, "+41791234567") and not blacklist.blocks(prefix, "+41781234567")
    assert not blacklist.blocks(prefix, None)  # a withheld caller is no number to match
    assert blacklist.entries_for(session, account, premium) == [prefix, temporary]
    assert blacklist.entries_for(session, account, other) == [prefix]
    later = dt.datetime(2030, 1, 1, 0, 1, tzinfo=UTC)
    assert blacklist.entries_for(session, account, premium, at=later) == [prefix]


def test_porting_in_needs_donor_and_date(session):
    account = accounts.add_account(session, "Porter AG")
    number = numbers.add_number(session, OPERATOR, "0800 555 666", account, donor_operator="Swisscom",
                                port_date=dt.date(2026, 12, 15))
    assert number.status.value == "porting_in"
    with pytest.raises(InputError, match="both"):
        numbers.add_number(session, OPERATOR, "0800 555 667", account, donor_operator="Sunrise")


def test_tokens_are_scoped_hashed_and_revocable(session):
    account = accounts.add_account(session, "Token AG")
    issued = accounts.add_token(session, account, "crm sync", "billing")
    assert issued.secret.startswith("sn_") and issued.secret not in issued.token.secret_sha256
    holder = accounts.token_holder(session, issued.secret)
    assert (holder.account_id, holder.role, str(holder.actor)) == (account.id, "billing", f"token:{issued.token.id}:crm sync")
    with pytest.raises(InputError, match="role"):
        accounts.add_token(session, account, "crm sync", "root")
    accounts.revoke_token(session, issued.token.id)
    assert accounts.token_holder(session, issued.secret) is None
    assert accounts.token_holder(session, "sn_" + "x" * 43) is None
