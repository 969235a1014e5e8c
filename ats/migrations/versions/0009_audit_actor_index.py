"""audit log: an index for the page's "who" filter

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 07:50:00

Settings -> Audit log filters by the acting user, newest first; without it that
scans the ``at`` index through every event. Plain CREATE/DROP INDEX.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(op.f("ix_audit_event_actor_at"), "audit_event", ["actor", "at"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_audit_event_actor_at"), table_name="audit_event")
