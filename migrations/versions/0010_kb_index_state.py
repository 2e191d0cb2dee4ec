"""knowledge base: the fingerprint of the text analysis the search index was built with

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 10:00:00

One row, its fingerprint unknown: a worker re-indexes the articles already searchable
once, with the analysis it runs (knowledge_base.reindex.reindex_if_stale), and records it.
An empty index just records it.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'kb_index_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('analysis', sa.String(length=64), nullable=True),
        sa.Column('indexed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_index_state')),
    )
    op.bulk_insert(table, [{'id': 1, 'analysis': None, 'indexed_at': None}])


def downgrade():
    op.drop_table('kb_index_state')
