"""Pages of a table for the admin and product lists: the rows and the table's total in one
statement (one round trip, one snapshot, so the two agree)."""

from typing import Final

# The total comes from its own subquery, joined to the page, so an offset past the end still
# reports it: one row of nulls besides the total. (A window count over the page's rows would
# have no row to ride on there.)
_PAGE: Final = (
    "SELECT page.*, total.total FROM (SELECT count(*) AS total FROM {table}) AS total"
    " LEFT JOIN LATERAL (SELECT {columns} FROM {table} ORDER BY id LIMIT $1 OFFSET $2) AS page"
    " ON true"
)


def page_statement(*, table: str, columns: str) -> str:
    """Takes $1 = limit and $2 = offset. Every row has `total`; a row whose `id` is null
    stands for an empty page."""
    return _PAGE.format(table=table, columns=columns)
