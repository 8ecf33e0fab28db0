"""sales lines linked to the outbound orders that fulfil them (lineage)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 10:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('sales_order_lines', sa.Column('outbound_id', sa.Uuid(), nullable=True))
    op.add_column('sales_order_lines', sa.Column('outbound_line_id', sa.Uuid(), nullable=True))
    op.create_index('ix_sales_order_lines_outbound', 'sales_order_lines', ['enterprise_id', 'outbound_id'],
                    unique=False)
    # the lineage joins: sales line -> allocations of its outbound line -> lots
    op.create_index('ix_sales_order_lines_outbound_line', 'sales_order_lines', ['enterprise_id', 'outbound_line_id'],
                    unique=False)
    op.create_index('ix_stock_allocations_line', 'stock_allocations', ['enterprise_id', 'line_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_stock_allocations_line', table_name='stock_allocations')
    op.drop_index('ix_sales_order_lines_outbound_line', table_name='sales_order_lines')
    op.drop_index('ix_sales_order_lines_outbound', table_name='sales_order_lines')
    with op.batch_alter_table('sales_order_lines') as batch:
        batch.drop_column('outbound_line_id')
        batch.drop_column('outbound_id')
