"""Which sync service filled the database: found from the tables, or forced by STRIPE_MIRROR.

Three shapes of schema ``stripe`` are known, each with its adapter in
``sql/sources/<name>/``.  The app itself reads only the canonical views, so
the source matters to ``flask db init`` (which adapter to install), to the
start-up check (is the installed adapter the right one), to the doctor and to
the demo loader.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row


@dataclass(frozen=True)
class Source:
    name: str
    label: str
    customers_table: str        # the table that tells this source apart
    table_by_kind: dict[str, str]  # what the adapter reads, in schema stripe, by Stripe object
    made_by: str                # what creates those tables
    synced_at_column: str | None  # when the sync service last wrote a row, where it records that
    customer_metadata: str = "metadata"  # the customer's metadata (jsonb), as an expression on its table

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self.table_by_kind.values())

    def table(self, kind: str) -> str:
        """The source's table of a Stripe object (customer, subscription, subscription_item, ...)."""
        return self.table_by_kind[kind]


KINDS = ("customer", "subscription", "subscription_item", "price", "product", "invoice", "payment_method")


def _tables(*names: str) -> dict[str, str]:
    return dict(zip(KINDS, names))


SOURCES = {
    source.name: source for source in (
        Source("sequin", "Sequin's Stripe sync", "customer",
               _tables("customer", "subscription", "subscription_item", "price", "product", "invoice",
                       "payment_method"),
               "Sequin's sync (or `flask db init --mirror` for a local mirror)", None),
        Source("supabase-sync-engine", "@supabase/stripe-sync-engine 0.48", "customers",
               _tables("customers", "subscriptions", "subscription_items", "prices", "products", "invoices",
                       "payment_methods"),
               "the engine's migrations (runMigrations from @supabase/stripe-sync-engine)", "last_synced_at"),
        Source("stripe-sync-engine", "@stripe/sync-engine 1.x", "customers",
               _tables("customers", "subscriptions", "subscription_items", "prices", "products", "invoices",
                       "payment_methods"),
               "the engine's migrations (runMigrations from @stripe/sync-engine, or Supabase's Stripe integration)",
               "_last_synced_at", customer_metadata="(_raw_data -> 'metadata')"),
    )
}
SOURCE_NAMES = tuple(SOURCES)
DEFAULT_USER_KEY = "user_id"  # the metadata key the adapters' indexes (020_indexes.sql) cover


def user_key_index(source: Source, user_key: str) -> tuple[str, sql.Composable] | None:
    """The index that finds a customer by another metadata key (STRIPE_CUSTOMER_USER_KEY): name and DDL."""
    if user_key == DEFAULT_USER_KEY:
        return None
    # readable, and unique per key (user.id and user-id read alike)
    digest = hashlib.sha256(user_key.encode()).hexdigest()[:8]
    name = f"billing_app_customers_{re.sub(r'[^a-z0-9]+', '_', user_key.lower())[:24]}_{digest}_idx"
    ddl = sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (({} ->> {}))").format(
        sql.Identifier(name), sql.Identifier("stripe", source.customers_table),
        sql.SQL(source.customer_metadata), sql.Literal(user_key))
    return name, ddl
# the canonical views in schema billing_mirror (sql/mirror/020_views.sql)
MIRROR_VIEWS = ("customers", "subscriptions", "subscription_items", "prices", "products", "invoices",
                "payment_methods")


class SourceError(RuntimeError):
    """No mirror, two mirrors, or not the one STRIPE_MIRROR names; the message says what to do."""


def sources_present(conn: psycopg.Connection) -> list[str]:
    """The names of the sources whose tables are in schema stripe, in SOURCES order."""
    singular, plural, raw = conn.cursor(row_factory=tuple_row).execute(
        """SELECT to_regclass('stripe.customer') IS NOT NULL,
                  to_regclass('stripe.customers') IS NOT NULL,
                  EXISTS (SELECT 1 FROM pg_attribute
                           WHERE attrelid = to_regclass('stripe.customers')
                             AND attname = '_raw_data' AND NOT attisdropped)""").fetchone()
    found = []
    if singular:
        found.append("sequin")
    if plural:
        found.append("stripe-sync-engine" if raw else "supabase-sync-engine")
    return found


def detect_source(conn: psycopg.Connection, forced: str | None = None) -> Source:
    """The source to read: ``forced`` (STRIPE_MIRROR) when set, else the only one present."""
    found = sources_present(conn)
    if forced:
        if forced not in found:
            source = SOURCES[forced]
            raise SourceError(
                f"STRIPE_MIRROR={forced} but the database has no {source.label} tables "
                f"(stripe.{source.customers_table}"
                f"{' with _raw_data' if forced == 'stripe-sync-engine' else ''}): they are created by "
                f"{source.made_by}" + (f"; found {', '.join(found)} instead" if found else ""))
        return SOURCES[forced]
    if not found:
        raise SourceError(
            'the mirror tables (schema "stripe") are not in this database: start the sync service '
            "(stripe-sync-engine runs its migrations first) or, for a local database, run "
            "`flask db init --mirror`")
    if len(found) > 1:
        raise SourceError(
            f"the database holds two mirrors ({' and '.join(SOURCES[n].label for n in found)}): "
            f"set STRIPE_MIRROR to the one to read ({' or '.join(found)})")
    return SOURCES[found[0]]


def installed_source(conn: psycopg.Connection) -> str | None:
    """The source whose adapter `flask db init` installed, or None before the first run."""
    cur = conn.cursor(row_factory=tuple_row)
    if not cur.execute("SELECT to_regprocedure('billing_mirror.source()') IS NOT NULL").fetchone()[0]:
        return None
    return cur.execute("SELECT billing_mirror.source()").fetchone()[0]
