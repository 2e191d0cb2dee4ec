"""knowledge base: each article's whole text as jieba's search mode cuts it, to match a
caller's long story against

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 04:30:00

The articles already searchable get theirs here (knowledge_base.text.story_terms, which
depends on jieba's own dictionary only), so long questions are ranked the new way
from the first search after the upgrade: about 2.5 ms an article, four minutes for
100,000 on SQLite.
"""
import json

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_BATCH = 500


def upgrade():
    with op.batch_alter_table('kb_search_document', schema=None) as batch_op:
        batch_op.add_column(sa.Column('story_terms', sa.Text(), nullable=True))
    _fill()


def _fill():
    """Every searchable article's story terms, read and written _BATCH at a time (a
    city's whole knowledge base never sits in memory at once)."""
    from knowledge_base.index import article_story_terms

    bind = op.get_bind()
    select = sa.text(
        "SELECT d.article_id, v.title, v.keywords, v.questions, v.body, v.materials "
        "FROM kb_search_document d JOIN kb_article a ON a.id = d.article_id "
        "JOIN kb_article_version v ON v.article_id = a.id AND v.number = a.live_number "
        "WHERE d.article_id > :after ORDER BY d.article_id LIMIT :batch"
    )
    update = sa.text("UPDATE kb_search_document SET story_terms = :terms WHERE article_id = :id")
    after = 0
    while rows := bind.execute(select, {"after": after, "batch": _BATCH}).all():
        values = [
            {
                "id": row[0],
                "terms": article_story_terms(
                    row[1], _list(row[2]), _list(row[3]), row[4] or "", _list(row[5])
                ),
            }
            for row in rows
        ]
        bind.execute(update, values)
        after = rows[-1][0]


def _list(value):
    """A JSON column as the driver returns it (a string on SQLite)."""
    if isinstance(value, str):
        value = json.loads(value)
    return [str(item) for item in value or []]


def downgrade():
    with op.batch_alter_table('kb_search_document', schema=None) as batch_op:
        batch_op.drop_column('story_terms')
