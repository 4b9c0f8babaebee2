"""Free text fields: printable only. PostgreSQL refuses NUL in text, and control characters
in names only serve to spoof or break what displays them."""

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# Control characters, and lone UTF-16 surrogates (JSON "\ud800"), which are not text at all.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return unicodedata.normalize("NFC", value)


PlainText = Annotated[str, AfterValidator(_printable)]


def normalize_username(value: object) -> object:
    """NFKC folds look-alike forms (full-width letters, ligatures) onto the plain ones, so a
    full-width 'alice' is 'alice' at registration and at login alike."""
    return unicodedata.normalize("NFKC", value) if isinstance(value, str) else value
