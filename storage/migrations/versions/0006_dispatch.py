"""Dispatch: outbox recipients, claims and payloads; each milestone's next notice day

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# A step whose due date or state changes is looked at again by the next planning tick, however it was changed.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER milestones_notify_again AFTER UPDATE OF due, state ON milestones
       WHEN NEW.due IS NOT OLD.due OR NEW.state IS NOT OLD.state
       BEGIN UPDATE milestones SET notify_on = '1970-01-01' WHERE id = NEW.id; END""",
]
POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION milestones_notify_again() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN NEW.notify_on := DATE '1970-01-01'; RETURN NEW; END $$""",
    """CREATE TRIGGER milestones_notify_again BEFORE UPDATE ON milestones FOR EACH ROW
       WHEN (NEW.due IS DISTINCT FROM OLD.due OR NEW.state IS DISTINCT FROM OLD.state)
       EXECUTE FUNCTION milestones_notify_again()""",
]


def upgrade() -> None:
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notify_on", sa.Date(), server_default=sa.text("'1970-01-01'"), nullable=False))
        batch_op.create_index(batch_op.f("ix_milestones_notify_on"), ["notify_on"], unique=False)
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.alter_column("order_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("person_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("address", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.JSON(), server_default=sa.text("'{}'"), nullable=False))
        batch_op.create_index(batch_op.f("ix_notifications_milestone_id"), ["milestone_id"], unique=False)
        batch_op.create_foreign_key("fk_notifications_person_id_people", "people", ["person_id"], ["id"])
    for statement in SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER milestones_notify_again")
    else:
        op.execute("DROP TRIGGER milestones_notify_again ON milestones")
        op.execute("DROP FUNCTION milestones_notify_again()")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint("fk_notifications_person_id_people", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_notifications_milestone_id"))
        for column in ("payload", "channel", "lease_until", "claimed_by", "address", "person_id"):
            batch_op.drop_column(column)
        batch_op.alter_column("order_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_milestones_notify_on"))
        batch_op.drop_column("notify_on")
