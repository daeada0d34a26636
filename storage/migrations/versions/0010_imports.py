"""Imported orders: the council's own reference beside sobot's, and what the imported row said, to know it again

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("council_reference", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("import_fingerprint", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_orders_council_reference", ["council_reference"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_index("ix_orders_council_reference")
        batch_op.drop_column("import_fingerprint")
        batch_op.drop_column("council_reference")
