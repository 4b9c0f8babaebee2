"""A notification on every change of products.

Every change of the products table, by keygate or by an operator's SQL, notifies the channel
keygate_products at commit: each worker keeps product reads in memory and forgets them when
told (app/products/cache.py).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Per statement, not per row: a TRUNCATE has no rows, and a bulk change is one message.
    # PostgreSQL folds the notifications of one transaction on one channel into one.
    op.execute(
        """
        CREATE FUNCTION products_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('keygate_products', '');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER products_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
        " ON products FOR EACH STATEMENT EXECUTE FUNCTION products_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER products_notify ON products")
    op.execute("DROP FUNCTION products_notify()")
