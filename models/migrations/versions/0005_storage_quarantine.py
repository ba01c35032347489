"""quarantine: mentions set aside by a failing pipeline stage

Revision ID: 0005_storage_quarantine
Revises: 0004
Create Date: 2026-11-24 10:00:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import models.types


revision = '0005_storage_quarantine'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quarantined_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('quarantine_stage', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(sa.Column('quarantine_error', sa.Text(), nullable=True))
        batch_op.create_index('ix_mention_quarantined', ['quarantined_at'], unique=False,
                              sqlite_where=sa.text('quarantined_at IS NOT NULL'),
                              postgresql_where=sa.text('quarantined_at IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.drop_index('ix_mention_quarantined')
        batch_op.drop_column('quarantine_error')
        batch_op.drop_column('quarantine_stage')
        batch_op.drop_column('quarantined_at')
