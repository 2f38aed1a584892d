"""daily check-ins

Revision ID: 0002_checkins
Revises: 0001_accounts
Create Date: 2026-11-22 08:40:40.306672

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_checkins'
down_revision = '0001_accounts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('checkin',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('mood', sa.Integer(), nullable=False),
    sa.Column('pain', sa.Integer(), nullable=True),
    sa.Column('side_effects', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('report_mode', sa.Enum('on_time', 'retrospective', name='reportmode', native_enum=False, length=16), nullable=False),
    sa.Column('days_after_event', sa.Integer(), nullable=False),
    sa.Column('source', sa.Enum('patient', 'clinician', name='entrysource', native_enum=False, length=16), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('submission_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entered_by_id'], ['user_account.id'], name=op.f('fk_checkin_entered_by_id_user_account')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.user_id'], name=op.f('fk_checkin_patient_id_patient'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin')),
    sa.UniqueConstraint('patient_id', 'local_date', name=op.f('uq_checkin_patient_id_local_date'))
    )
    op.create_table('craving_rating',
    sa.Column('checkin_id', sa.Integer(), nullable=False),
    sa.Column('substance', sa.String(length=32), nullable=False),
    sa.Column('intensity', sa.Integer(), nullable=False),
    sa.Column('frequency', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['checkin_id'], ['checkin.id'], name=op.f('fk_craving_rating_checkin_id_checkin'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('checkin_id', 'substance', name=op.f('pk_craving_rating'))
    )
    op.create_table('sleep_record',
    sa.Column('checkin_id', sa.Integer(), nullable=False),
    sa.Column('into_bed', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tried_sleep', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sol_min', sa.Integer(), nullable=False),
    sa.Column('awakenings', sa.Integer(), nullable=False),
    sa.Column('waso_min', sa.Integer(), nullable=False),
    sa.Column('final_wake', sa.DateTime(timezone=True), nullable=False),
    sa.Column('out_of_bed', sa.DateTime(timezone=True), nullable=False),
    sa.Column('quality', sa.String(length=16), nullable=False),
    sa.Column('tib_min', sa.Integer(), nullable=False),
    sa.Column('tst_min', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['checkin_id'], ['checkin.id'], name=op.f('fk_sleep_record_checkin_id_checkin'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('checkin_id', name=op.f('pk_sleep_record'))
    )
    op.create_table('substance_use',
    sa.Column('checkin_id', sa.Integer(), nullable=False),
    sa.Column('substance', sa.String(length=32), nullable=False),
    sa.Column('used', sa.Boolean(), nullable=False),
    sa.Column('amount', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['checkin_id'], ['checkin.id'], name=op.f('fk_substance_use_checkin_id_checkin'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('checkin_id', 'substance', name=op.f('pk_substance_use'))
    )


def downgrade():
    op.drop_table('substance_use')
    op.drop_table('sleep_record')
    op.drop_table('craving_rating')
    op.drop_table('checkin')
