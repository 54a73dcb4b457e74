"""Amounts in a currency's minor unit, shown the way people read them.

Stripe stores money as integers in the currency's smallest unit; how many
decimals that unit has is Stripe's rule, which differs from ISO 4217 for a
few currencies.  Formatting is Babel's (CLDR data).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency

# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = frozenset({
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof",
    "xpf",
})
# https://docs.stripe.com/currencies#three-decimal
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


def minor_unit_exponent(currency: str) -> int:
    currency = currency.lower()
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def to_major(amount: int, currency: str) -> Decimal:
    """1999 usd -> Decimal('19.99'); 3000 jpy -> Decimal('3000')."""
    return Decimal(amount).scaleb(-minor_unit_exponent(currency))


@lru_cache(maxsize=8192)  # pages show the same few prices over and over; Babel is not cheap
def format_money(amount: int | None, currency: str | None, locale: str = "en_US") -> str:
    """The amount with its currency sign, e.g. "$29.00", "¥3,000", "€5.00"; "—" when unknown."""
    if amount is None or not currency:
        return "—"
    return format_currency(to_major(amount, currency), currency.upper(), locale=locale)


def interval_words(interval: str | None, count: int | None) -> str:
    """("month", 1) -> "per month"; ("month", 3) -> "every 3 months"; None -> "one time"."""
    if not interval:
        return "one time"
    count = count or 1
    return f"per {interval}" if count == 1 else f"every {count} {interval}s"
