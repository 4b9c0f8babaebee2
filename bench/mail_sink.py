"""The benchmark's mail server: an SMTP server (aiosmtpd) that takes every message and forgets
it, after DELAY seconds each (a slow mail server), on 127.0.0.1:PORT.

    python bench/mail_sink.py PORT DELAY
"""

import asyncio
import sys

from aiosmtpd.smtp import SMTP, Envelope, Session


class Sink:
    def __init__(self, delay_seconds: float) -> None:
        self.delay_seconds = delay_seconds

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay_seconds)
        return "250 OK"


async def serve(port: int, delay_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    sink = Sink(delay_seconds)
    server = await loop.create_server(lambda: SMTP(sink), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), float(sys.argv[2])))
