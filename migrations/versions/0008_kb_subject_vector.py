"""knowledge base on PostgreSQL: a small subject vector (title and keywords) with its own
GIN index, the full search vector kept inline instead of out of line, and no parallel
scans of the table

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 01:20:00

Ranking a match with ts_rank reads its whole vector. Stored out of line (TOAST), every
read fetched and decompressed chunks: at 100,000 articles a search spent most of its
time there. Inline, nothing is fetched from elsewhere. The subject vector plays the part of
SQLite's kb_fts_subject: a common word is looked for in titles and keywords only. SQLite
is unchanged by this step.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE kb_search_document ADD COLUMN subject_vector tsvector")
    op.execute("ALTER TABLE kb_search_document ALTER COLUMN search_vector SET STORAGE MAIN")
    op.execute("ALTER TABLE kb_search_document ALTER COLUMN subject_vector SET STORAGE MAIN")
    # A new value for every row (concatenating nothing), stored the new way.
    op.execute(
        "UPDATE kb_search_document SET search_vector = search_vector || ''::tsvector, "
        "subject_vector = ts_filter(search_vector, '{a,b}') WHERE search_vector IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_kb_search_document_subject ON kb_search_document "
        "USING gin (subject_vector)"
    )
    # No parallel scans of the index: PostgreSQL cannot tell how rare a word is, and
    # started a worker (milliseconds) to read a few hundred matches.
    op.execute("ALTER TABLE kb_search_document SET (parallel_workers = 0)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE kb_search_document RESET (parallel_workers)")
    op.execute("DROP INDEX IF EXISTS ix_kb_search_document_subject")
    op.execute("ALTER TABLE kb_search_document DROP COLUMN subject_vector")
    op.execute("ALTER TABLE kb_search_document ALTER COLUMN search_vector SET STORAGE EXTENDED")
