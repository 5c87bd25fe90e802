"""tracking_events.referrer: where a click came from, as an origin only

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:00:00

Only the scheme and host of the Referer header are kept (a webmail URL's path can
carry a mailbox id). Events recorded before this have none: they get "".
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "referrer", sa.String(length=200), nullable=False, server_default=""
            )
        )


def downgrade():
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.drop_column("referrer")
