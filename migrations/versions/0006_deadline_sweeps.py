"""deadline sweeps: yellow-warning times beside each deadline, raised alerts, and the
follow-up visit's SMS survey, when an SMS was last handed to Twilio, outbox claims, early-warning
alerts, and the indexes the figures read periods by

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 15:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sign_warn_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('due_warn_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('visit_survey_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index('ix_ticket_status_sign_warn', ['status', 'sign_warn_at'], unique=False)
        batch_op.create_index('ix_ticket_status_due_warn', ['status', 'due_warn_at'], unique=False)
        batch_op.create_index('ix_ticket_due', ['due_at'], unique=False)
        batch_op.create_index('ix_ticket_dispatched', ['dispatched_at'], unique=False)
        batch_op.create_index('ix_ticket_closed', ['closed_at'], unique=False)
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index('ix_assignment_dispatched', ['dispatched_at'], unique=False)
    with op.batch_alter_table('return_request', schema=None) as batch_op:
        batch_op.create_index('ix_return_request_requested', ['requested_at'], unique=False)
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.create_index('ix_visit_visited', ['visited_at'], unique=False)
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('outbox_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'deadline_alert',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['department_id'], ['department.id'],
            name=op.f('fk_deadline_alert_department_id_department'),
        ),
        sa.ForeignKeyConstraint(
            ['ticket_id'], ['ticket.id'], name=op.f('fk_deadline_alert_ticket_id_ticket')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline_alert')),
        sa.UniqueConstraint(
            'ticket_id', 'kind', 'deadline', name=op.f('uq_deadline_alert_ticket_id')
        ),
    )
    op.create_table(
        'hotspot_alert',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=96), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('category_id', sa.Integer(), nullable=True),
        sa.Column('territory_id', sa.Integer(), nullable=True),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('keyword', sa.String(length=32), nullable=True),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('baseline', sa.Float(), nullable=True),
        sa.Column('window_from', sa.DateTime(timezone=True), nullable=False),
        sa.Column('window_to', sa.DateTime(timezone=True), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['category_id'], ['category.id'], name=op.f('fk_hotspot_alert_category_id_category')
        ),
        sa.ForeignKeyConstraint(
            ['territory_id'], ['territory.id'],
            name=op.f('fk_hotspot_alert_territory_id_territory'),
        ),
        sa.ForeignKeyConstraint(
            ['ticket_id'], ['ticket.id'], name=op.f('fk_hotspot_alert_ticket_id_ticket')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_hotspot_alert')),
        sa.UniqueConstraint('key', name=op.f('uq_hotspot_alert_key')),
    )
    with op.batch_alter_table('hotspot_alert', schema=None) as batch_op:
        batch_op.create_index(op.f('ix_hotspot_alert_raised_at'), ['raised_at'], unique=False)
    with op.batch_alter_table('deadline_alert', schema=None) as batch_op:
        batch_op.create_index(op.f('ix_deadline_alert_ticket_id'), ['ticket_id'], unique=False)
        batch_op.create_index(op.f('ix_deadline_alert_raised_at'), ['raised_at'], unique=False)


def downgrade():
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_visited')
    with op.batch_alter_table('return_request', schema=None) as batch_op:
        batch_op.drop_index('ix_return_request_requested')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_assignment_dispatched')
    with op.batch_alter_table('hotspot_alert', schema=None) as batch_op:
        batch_op.drop_index(op.f('ix_hotspot_alert_raised_at'))
    op.drop_table('hotspot_alert')
    with op.batch_alter_table('deadline_alert', schema=None) as batch_op:
        batch_op.drop_index(op.f('ix_deadline_alert_raised_at'))
        batch_op.drop_index(op.f('ix_deadline_alert_ticket_id'))
    op.drop_table('deadline_alert')
    with op.batch_alter_table('outbox_item', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('attempted_at')
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_closed')
        batch_op.drop_index('ix_ticket_dispatched')
        batch_op.drop_index('ix_ticket_due')
        batch_op.drop_index('ix_ticket_status_due_warn')
        batch_op.drop_index('ix_ticket_status_sign_warn')
        batch_op.drop_column('visit_survey_at')
        batch_op.drop_column('due_warn_at')
        batch_op.drop_column('sign_warn_at')
