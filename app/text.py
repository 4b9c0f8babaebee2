"""Free text fields: printable only. PostgreSQL refuses NUL in text, and control characters
in names only serve to spoof or break what displays them."""

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return unicodedata.normalize("NFC", value)


PlainText = Annotated[str, AfterValidator(_printable)]
