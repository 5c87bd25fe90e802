"""deliveries: the (send_id, status) index also holds id, in that order

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 01:30:00

A sender claims each send's due rows by status in id order. SQLite keeps every
index's entries in rowid (= id) order within equal keys; PostgreSQL does not, so
there the claim scanned the primary key past every row already sent (O(sent) per
batch). With id in the index both read only the rows they take.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_deliveries_send_status", table_name="deliveries")
    op.create_index(
        "ix_deliveries_send_status", "deliveries", ["send_id", "status", "id"]
    )


def downgrade():
    op.drop_index("ix_deliveries_send_status", table_name="deliveries")
    op.create_index("ix_deliveries_send_status", "deliveries", ["send_id", "status"])
