"""knowledge base: similar questions (相似问法) on article versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('kb_article_version', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('questions', sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table('kb_search_document', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('question_terms', sa.Text(), nullable=False, server_default='')
        )


def downgrade():
    with op.batch_alter_table('kb_search_document', schema=None) as batch_op:
        batch_op.drop_column('question_terms')
    with op.batch_alter_table('kb_article_version', schema=None) as batch_op:
        batch_op.drop_column('questions')
