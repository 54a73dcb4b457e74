import psycopg


def active_recurring_prices(conn: psycopg.Connection) -> list[dict]:
    """Prices that can be subscribed to now: active, recurring, not deleted, of an active product."""
    return conn.execute(
        """SELECT p.id, p.nickname, p.currency, p.unit_amount, p.recurring_interval,
                  p.recurring_interval_count, pr.id AS product_id, pr.name AS product_name,
                  pr.description AS product_description
             FROM stripe.price p
             JOIN stripe.product pr ON pr.id = p.product_id
            WHERE p.active AND p.deleted IS NOT TRUE AND p.type = 'recurring'
              AND pr.active AND pr.deleted IS NOT TRUE
            ORDER BY pr.name, pr.id, p.recurring_interval, p.recurring_interval_count, p.unit_amount""").fetchall()


def is_active_recurring_price(conn: psycopg.Connection, price_id: str) -> bool:
    row = conn.execute(
        """SELECT 1 FROM stripe.price p JOIN stripe.product pr ON pr.id = p.product_id
            WHERE p.id = %s AND p.active AND p.deleted IS NOT TRUE AND p.type = 'recurring'
              AND pr.active AND pr.deleted IS NOT TRUE""", (price_id,)).fetchone()
    return row is not None
