"""session record: the rest of the esketamine REMS monitoring form (KET-R8)

The patient's birth date and REMS enrolment; on the session, the times of the SpO2 and sedation readings, the
concomitant medication (yes/no per class, and as written) and the clinician who monitored the patient. Every new
column is empty (or '') for the rows that exist: nothing was recorded for them.

Revision ID: 0012_session_record
Revises: 0011_instruments
Create Date: 2026-12-09 09:12:40.118204

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_session_record'
down_revision = '0011_instruments'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('birth_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('rems_enrolled', sa.Boolean(), nullable=True))

    with op.batch_alter_table('dosing_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spo2_pre_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('spo2_post_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sedation_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('concomitant_classes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('concomitant_medication', sa.String(length=500), server_default='', nullable=False))
        batch_op.add_column(sa.Column('monitored_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_dosing_session_monitored_by_id_user_account'), 'user_account', ['monitored_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('dosing_session', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_dosing_session_monitored_by_id_user_account'), type_='foreignkey')
        batch_op.drop_column('monitored_by_id')
        batch_op.drop_column('concomitant_medication')
        batch_op.drop_column('concomitant_classes')
        batch_op.drop_column('sedation_at')
        batch_op.drop_column('spo2_post_at')
        batch_op.drop_column('spo2_pre_at')

    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_column('rems_enrolled')
        batch_op.drop_column('birth_date')
