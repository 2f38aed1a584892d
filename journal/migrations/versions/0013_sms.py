"""text messages: consent, the sms reminder channel, the provider's message id and status

Revision ID: 0013_sms
Revises: 0011_instruments
Create Date: 2026-12-02 11:40:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013_sms"
down_revision = "0012_session_record"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sms_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("given_via", sa.String(length=16), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_via", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.user_id"], name=op.f("fk_sms_consent_patient_id_patient"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_consent")),
    )
    with op.batch_alter_table("sms_consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_consent_patient_id"), ["patient_id"], unique=False)
        # At most one consent in force per patient.
        batch_op.create_index(
            "uq_sms_consent_in_force",
            ["patient_id"],
            unique=True,
            sqlite_where=sa.text("withdrawn_at IS NULL"),
            postgresql_where=sa.text("withdrawn_at IS NULL"),
        )

    with op.batch_alter_table("reminder_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sms", sa.Boolean(), server_default="0", nullable=False))

    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_sid", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("provider_status", sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_outbox_message_provider_sid"), ["provider_sid"])


def downgrade():
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_outbox_message_provider_sid"), type_="unique")
        batch_op.drop_column("provider_status")
        batch_op.drop_column("provider_sid")

    with op.batch_alter_table("reminder_settings", schema=None) as batch_op:
        batch_op.drop_column("sms")

    with op.batch_alter_table("sms_consent", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_sms_consent_in_force",
            sqlite_where=sa.text("withdrawn_at IS NULL"),
            postgresql_where=sa.text("withdrawn_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_sms_consent_patient_id"))

    op.drop_table("sms_consent")
