"""Access tokens whose signature and claims this process has already verified, so that a client
presenting one token for its whole lifetime pays the signature check once per worker, not on
every request (README, Performance: authentication).

Only what cannot change for a given token string is remembered: the signature and the claims
read from it. What can change is still checked on every use: the time claims against the clock
(by the codec), and the user and the session (by the authenticator). The memo holds only
tokens this service signed, at most MAX_ENTRIES of them, the oldest dropped first; it is
emptied when the keys change."""

from typing import Final, Generic, TypeVar

# ~1 KB each (a token and its claims): at most ~10 MB per worker.
MAX_ENTRIES: Final = 10_000

Claims = TypeVar("Claims")


class VerifiedTokenMemo(Generic[Claims]):
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: dict[str, Claims] = {}
        self._max_entries = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Claims | None:
        return self._entries.get(token)

    def remember(self, token: str, claims: Claims) -> None:
        if len(self._entries) >= self._max_entries:
            # Insertion order: the oldest entry goes, at O(1). A token still in use is verified
            # again on its next request, and remembered anew.
            del self._entries[next(iter(self._entries))]
        self._entries[token] = claims

    def forget(self, token: str) -> None:
        self._entries.pop(token, None)

    def clear(self) -> None:
        self._entries.clear()
