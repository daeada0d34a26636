"""Teams conversation references and allocation cards

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 06:40:05.698837
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_references',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=400), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.String(length=32), nullable=True),
    sa.Column('service_url', sa.String(length=500), nullable=False),
    sa.Column('reference', sa.JSON(), nullable=False),
    sa.Column('stale', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id')
    )
    with op.batch_alter_table('conversation_references', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_references_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_references_purpose'), ['purpose'], unique=False)

    op.create_table('allocation_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('conversation_reference_id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.String(length=200), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_reference_id'], ['conversation_references.id'], ),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('allocation_cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_allocation_cards_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_allocation_cards_order_id'), ['order_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('allocation_cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_allocation_cards_order_id'))
        batch_op.drop_index(batch_op.f('ix_allocation_cards_activity_id'))

    op.drop_table('allocation_cards')
    with op.batch_alter_table('conversation_references', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_references_purpose'))
        batch_op.drop_index(batch_op.f('ix_conversation_references_person_id'))

    op.drop_table('conversation_references')
