"""Processed mail

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 07:13:24.783729
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('processed_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=500), nullable=False),
    sa.Column('part', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('folder', sa.String(length=64), nullable=False),
    sa.Column('order_reference', sa.String(length=32), nullable=True),
    sa.Column('sender', sa.String(length=320), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id', 'part', name='uq_processed_mail_message_part')
    )


def downgrade() -> None:
    op.drop_table('processed_mail')
