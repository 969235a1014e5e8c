"""keyed token hashes with a lookup prefix; TOTP second factor

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 10:00:00

API tokens are now ``pat_<8-character prefix>_<secret>``: the prefix finds the
row through an index, and the token is compared with an HMAC-SHA256 under a
key derived from SECRET_KEY (``key_id`` names that key). Tokens made before
keep working: their prefix is the six characters after ``pat_`` (the stored
``hint`` is the token's first ten characters), ``key_id`` stays empty to mark
their plain SHA-256, and the first use replaces that with the keyed hash.

Users get the columns of an optional TOTP second factor: the encrypted
secret, when it was switched on, the last time step used (no code twice) and
the hashes of the one-time recovery codes.

Adding nullable columns and an index needs no table rebuild; making
``prefix`` NOT NULL after filling it does on SQLite (batch mode copies
api_token, which has no triggers).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("totp_enabled_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("totp_recovery", sa.JSON(), nullable=True))

    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prefix", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
    # the old hint is "pat_" and the next six characters of the token
    op.execute("UPDATE api_token SET prefix = substr(hint, 5, 6)")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.alter_column("prefix", existing_type=sa.String(length=16), nullable=False)
        batch_op.create_index(batch_op.f("ix_api_token_prefix"), ["prefix"], unique=False)


def downgrade():
    # Tokens made after the upgrade cannot be checked by the old code (it looks
    # a token up by its plain SHA-256): they stop working, the old ones go on.
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_prefix"))
        batch_op.drop_column("key_id")
        batch_op.drop_column("prefix")

    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("totp_recovery")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enabled_at")
        batch_op.drop_column("totp_secret")
