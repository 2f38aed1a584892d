"""check-ins remember when Save was pressed

Revision ID: 0006_checkin_saved_at
Revises: 0005_sessions
Create Date: 2026-12-02 01:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_checkin_saved_at'
down_revision = '0005_sessions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('checkin', schema=None) as batch_op:
        batch_op.add_column(sa.Column('saved_at', sa.DateTime(timezone=True), nullable=True))
    # Entries stored before this revision were saved when they were last written.
    op.execute("UPDATE checkin SET saved_at = updated_at")
    with op.batch_alter_table('checkin', schema=None) as batch_op:
        batch_op.alter_column('saved_at', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade():
    with op.batch_alter_table('checkin', schema=None) as batch_op:
        batch_op.drop_column('saved_at')
