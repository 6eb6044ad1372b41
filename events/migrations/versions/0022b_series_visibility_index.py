"""series: an index on visibility, so the public series' summary reads only their rows

Revision ID: 0022b_series_visibility_index
Revises: 0022c_organiser_language
Create Date: 2026-12-01 11:20:00

The site-wide feeds, the home page and the API list take their version from one aggregate
over the public series (events.queries.PUBLIC_SUMMARY). Without an index PostgreSQL reads
that small table sequentially, dead row versions included: the feed triggers (0005) write
a new version of a series row per statement that changes its talks, so after a bulk load
of 100,000 talks the 200-row table held 2,945 pages and the read took 10 ms instead of
0.3 ms. With the index only the live rows' pages are read, however many talks were written.
"""

from __future__ import annotations

from alembic import op

revision = "0022b_series_visibility_index"
down_revision = "0022c_organiser_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_index("ix_series_visibility", "series", ["visibility"])


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_series_visibility", table_name="series")
