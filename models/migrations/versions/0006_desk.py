"""desk: a case's lane (complaint or praise), a draft's intent, an approver's signature

Revision ID: 0006_desk
Revises: 0005_storage_quarantine
Create Date: 2026-11-30 08:00:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006_desk'
down_revision = '0005_storage_quarantine'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lane', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False,
                                      server_default='complaint'))
    with op.batch_alter_table('draft', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intent', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('signature')
    with op.batch_alter_table('draft', schema=None) as batch_op:
        batch_op.drop_column('intent')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('lane')
