"""the clinic's own words for Spanish-speaking patients: its hours and when its team reads answers and notes

Revision ID: 0015_clinic_spanish
Revises: 0014_language
Create Date: 2026-12-02 15:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0015_clinic_spanish"
down_revision = "0014_language"
branch_labels = None
depends_on = None

COLUMNS = (("clinic_hours_es", 200), ("review_promise_es", 300), ("note_review_promise_es", 300))


def upgrade():
    # Empty for every existing clinic: no Spanish words given yet, so its Spanish-speaking patients keep reading
    # the English ones, marked as English.
    with op.batch_alter_table("clinic", schema=None) as batch_op:
        for name, length in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), server_default="", nullable=False))


def downgrade():
    with op.batch_alter_table("clinic", schema=None) as batch_op:
        for name, _length in COLUMNS:
            batch_op.drop_column(name)
