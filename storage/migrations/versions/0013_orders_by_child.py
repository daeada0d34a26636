"""Orders found by their child: a new order's check for an open one like it reads them by it, as does a child's page

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 23:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_child_id", "orders", ["child_id"])


def downgrade() -> None:
    op.drop_index("ix_orders_child_id", table_name="orders")
