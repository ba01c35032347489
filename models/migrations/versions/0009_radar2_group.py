"""a spike's group reply (which draft answered which case) and its status updates

Revision ID: 0009_radar2_group
Revises: 0008_lanes_desk
Create Date: 2026-11-30 07:55:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import models.types


revision = '0009_radar2_group'
down_revision = '0008_lanes_desk'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('spike_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('spike_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('approved_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('approved_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['draft_id'], ['draft.id'], ),
    sa.ForeignKeyConstraint(['spike_id'], ['spike.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('draft_id'),
    sa.UniqueConstraint('spike_id', 'case_id', name='uq_spike_reply_case')
    )
    with op.batch_alter_table('spike_reply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spike_reply_spike_id'), ['spike_id'], unique=False)

    op.create_table('spike_status_update',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('spike_id', sa.Integer(), nullable=False),
    sa.Column('brand', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('platform_post_id', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['spike_id'], ['spike.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('spike_id', 'platform', name='uq_spike_status_platform')
    )
    with op.batch_alter_table('spike_status_update', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spike_status_update_spike_id'), ['spike_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('spike_status_update', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spike_status_update_spike_id'))
    op.drop_table('spike_status_update')
    with op.batch_alter_table('spike_reply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spike_reply_spike_id'))
    op.drop_table('spike_reply')
