"""Issue 15, one home for each rule: where SQL (the reports) and Python (the pages) both need the
rule for a currency's minor unit, this proves they agree on every ISO 4217 currency (a superset of
the 135+ Stripe supports), and that they turn minor units into the same major amount."""

from __future__ import annotations

from decimal import Decimal

import psycopg
from babel.numbers import list_currencies

from billing_app.money import THREE_DECIMAL, ZERO_DECIMAL, minor_unit_exponent, to_major

CURRENCIES = sorted(code.lower() for code in list_currencies())


def test_python_and_sql_agree_on_every_currency_s_minor_unit(database_url):
    assert len(CURRENCIES) > 135 and ZERO_DECIMAL <= set(CURRENCIES) and THREE_DECIMAL <= set(CURRENCIES)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """SELECT c, reporting.currency_exponent(c), reporting.to_major(123456, c),
                      reporting.currency_exponent(upper(c))
                 FROM unnest(%s::text[]) AS c""", (CURRENCIES,)).fetchall()
    disagree = [(code, sql_exponent, minor_unit_exponent(code)) for code, sql_exponent, _, _ in rows
                if sql_exponent != minor_unit_exponent(code)]
    assert disagree == [], "currency exponents differ between reporting.currency_exponent and money.py"
    amounts = [(code, sql_major, to_major(123456, code)) for code, _, sql_major, _ in rows
               if Decimal(sql_major) != to_major(123456, code)]
    assert amounts == []
    assert all(upper == exponent for _, exponent, _, upper in rows)  # codes in any case
    assert {code: exponent for code, exponent, _, _ in rows}["kwd"] == 3  # 1234 KWD is 1.234, not 1.23
