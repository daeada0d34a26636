"""Orders found by their social worker: the caseload of a social worker or their manager reads them by it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_social_worker_id", "orders", ["social_worker_id"])


def downgrade() -> None:
    op.drop_index("ix_orders_social_worker_id", table_name="orders")
