"""the patient's language: en or es, for the pages, messages and texts they get

Revision ID: 0014_language
Revises: 0013_sms
Create Date: 2026-12-02 12:15:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014_language"
down_revision = "0013_sms"
branch_labels = None
depends_on = None


def upgrade():
    # Every patient enrolled before spoke to the journal in English: the server default keeps them there.
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=2), server_default="en", nullable=False))


def downgrade():
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_column("language")
