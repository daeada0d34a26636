"""Orders remember the Teams form they were saved from

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("form_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_orders_form_id", ["form_id"])


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint("uq_orders_form_id", type_="unique")
        batch_op.drop_column("form_id")
