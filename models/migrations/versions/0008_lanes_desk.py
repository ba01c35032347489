"""lanes: a snoozed case, a draft handed to the approvers, an approval's undo window

Revision ID: 0008_lanes_desk
Revises: 0007_radar_spikes
Create Date: 2026-11-30 08:00:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import models.types


revision = '0008_lanes_desk'
down_revision = '0007_radar_spikes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snoozed_until', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('snooze_until_post', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('draft', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ready_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('ready_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('send_after', models.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('draft', schema=None) as batch_op:
        batch_op.drop_column('send_after')
        batch_op.drop_column('ready_at')
        batch_op.drop_column('ready_by')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('snooze_until_post')
        batch_op.drop_column('snoozed_until')
