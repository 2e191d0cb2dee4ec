"""figures' daily rollup: one row of counts per city day and group, the days built,
and the log of changes to days already ended; the knowledge base's number of searchable
articles kept in kb_term under the empty term

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 18:30:00

"""
from alembic import op
import sqlalchemy as sa

from hotline.models.ops import KPI_COUNTS


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'kpi_rollup',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('group_by', sa.String(length=16), nullable=False),
        sa.Column('group_key', sa.String(length=64), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False, server_default='0')
            for name in KPI_COUNTS
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_rollup')),
        sa.UniqueConstraint(
            'group_by', 'day', 'group_key', name=op.f('uq_kpi_rollup_group_by')
        ),
    )
    op.create_table(
        'kpi_rollup_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_kpi_rollup_day')),
    )
    op.create_table(
        'kpi_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_change')),
    )
    with op.batch_alter_table('kpi_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kpi_change_day'), ['day'], unique=False)
    op.execute(
        "INSERT INTO kb_term (term, documents) "
        "SELECT '', count(*) FROM kb_search_document HAVING count(*) > 0"
    )


def downgrade():
    op.execute("DELETE FROM kb_term WHERE term = ''")
    with op.batch_alter_table('kpi_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kpi_change_day'))
    op.drop_table('kpi_change')
    op.drop_table('kpi_rollup_day')
    op.drop_table('kpi_rollup')
