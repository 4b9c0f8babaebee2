"""The response of a route that answers JSON made earlier (a memoised user, the product
cache's pages): the body as it is, its two headers made directly. Starlette's Response
renders the content and builds its headers by a general path (charset, header list) on every
request, and such routes are among the hottest (README, Performance)."""

from starlette.responses import Response

JSON: bytes = b"application/json"


class ReadyJSON(Response):
    media_type = "application/json"

    def __init__(self, body: bytes) -> None:
        # Response.__init__ is not called: what it would set is set here.
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = [(b"content-length", str(len(body)).encode()), (b"content-type", JSON)]
