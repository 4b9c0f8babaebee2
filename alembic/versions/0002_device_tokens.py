"""Device tokens.

A device that logged in before is counted in a throttling window of its own (docs/contract.md,
Hardening): its token is kept by SHA-256 digest only, bound to one user, until it expires.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE device_tokens (
            token_hash bytea CONSTRAINT device_tokens_pkey PRIMARY KEY,
            user_id bigint NOT NULL
                CONSTRAINT device_tokens_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX device_tokens_user_id_idx ON device_tokens (user_id)")
    op.execute("CREATE INDEX device_tokens_expires_at_idx ON device_tokens (expires_at)")


def downgrade() -> None:
    op.execute("DROP TABLE device_tokens")
