"""read path indexes: counts of applications by stage and by job from the index alone

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 18:00:00

Every list leaves archived rows out, so its ``total`` (a COUNT of every match)
reads ``is_archived`` too, as do the counts per job and stage of the dashboard
and the board. Two indexes get ``is_archived`` as a last column, so that these
counts are answered from the index alone instead of one table row per match:
(stage, created_at, id) for "review or screening" (70,000 of bench/data.py's
200,000 applications: 94 ms before, 7 ms after) and (job_id, stage, position,
id) for the dashboard's counts of every open job (414 ms, 34 ms). Last, not
earlier: with it as a further equality column, SQLite's planner (without
ANALYZE statistics) counted a job's applications in one stage through the
stage index, covering but reading every application in that stage.

Plain CREATE/DROP INDEX, no batch mode: recreating the table would drop the
full-text triggers of 0006.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# (old index, new index): the same columns, and is_archived
CHANGES = [
    (
        ("ix_application_stage_created_at_id", ["stage", "created_at", "id"]),
        (
            "ix_application_stage_created_at_id_is_archived",
            ["stage", "created_at", "id", "is_archived"],
        ),
    ),
    (
        ("ix_application_job_id_stage_position_id", ["job_id", "stage", "position", "id"]),
        (
            "ix_application_job_id_stage_position_id_is_archived",
            ["job_id", "stage", "position", "id", "is_archived"],
        ),
    ),
]


def upgrade():
    for (old, _), (new, columns) in CHANGES:
        op.create_index(new, "application", columns, unique=False)
        op.drop_index(old, table_name="application")


def downgrade():
    for (old, columns), (new, _) in CHANGES:
        op.create_index(old, "application", columns, unique=False)
        op.drop_index(new, table_name="application")
