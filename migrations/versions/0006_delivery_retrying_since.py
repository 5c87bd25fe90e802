"""deliveries.retrying_since: the give-up period counts per delivery

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 23:40:00

The give-up period used to count from the send's start, so "send again" days later
gave up at the first temporary refusal. Rows deferred when this runs keep that
start, so their retries end when they would have.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retrying_since", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE deliveries SET retrying_since = "
        "(SELECT sends.created_at FROM sends WHERE sends.id = deliveries.send_id) "
        "WHERE status = 'deferred'"
    )


def downgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("retrying_since")
