"""exchange rates with their source (finance)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 10:45:00
"""
from alembic import op
import sqlalchemy as sa

import tradeloop.kit.models


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fx_rates',
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('rate', tradeloop.kit.models.DecimalText(), nullable=False),
    sa.Column('quote', sa.String(length=20), nullable=False),
    sa.Column('quoted', tradeloop.kit.models.DecimalText(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_at', tradeloop.kit.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source', 'currency', 'day', name=op.f('pk_fx_rates'))
    )
    op.create_index('ix_fx_rates_currency_day', 'fx_rates', ['currency', 'day'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_fx_rates_currency_day', table_name='fx_rates')
    op.drop_table('fx_rates')
