"""payout profiles (payment firms' CSV layouts)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 09:00:00
"""
from alembic import op
import sqlalchemy as sa

import tradeloop.kit.models


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payout_profiles',
    sa.Column('enterprise_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('columns', sa.JSON(), nullable=False),
    sa.Column('date_format', sa.String(length=40), nullable=True),
    sa.Column('timezone', sa.String(length=40), nullable=False),
    sa.Column('sign_convention', sa.String(length=20), nullable=False),
    sa.Column('decimal_comma', sa.Boolean(), nullable=False),
    sa.Column('default_currency', sa.String(length=3), nullable=True),
    sa.Column('type_map', sa.JSON(), nullable=False),
    sa.Column('created_at', tradeloop.kit.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tradeloop.kit.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_payout_profiles_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('enterprise_id', 'id', name=op.f('pk_payout_profiles')),
    sa.UniqueConstraint('enterprise_id', 'name', name='uq_payout_profiles_name')
    )


def downgrade() -> None:
    op.drop_table('payout_profiles')
