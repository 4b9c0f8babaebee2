"""The README is executable: its shell blocks run in order, in one bash shell, against a running
`keygate serve`, the way a reader pastes them. A block that fails, or whose output no longer
matches what the README shows, fails this test, which names the block by its line.

What runs: every block fenced ```sh, ```bash or ```shell, except one whose fence has
`<!-- readme-test: skip (why) -->` on the line above it; the reason names what this test
cannot have (Docker, a terminal, a server that serves forever, the 9-minute benchmark).

How: one `bash` with `set -euo pipefail` (a failing command or an undefined variable fails its
block), in the repository root, with `localhost:8000` and `127.0.0.1:8000` rewritten to the
test server's port. The reader's quick start (skipped: it serves until stopped) is stood in
for by `keygate migrate`, `keygate demo` and `keygate serve` on a database of the test's own
(`<test database>_readme`, made afresh) and the test Redis db (flushed before each test).
The shell and the server share DATABASE_URL, REDIS_URL, JWT_SECRET and BCRYPT_ROUNDS=4. Files
the blocks write in the repository root (enrol.json, a key file) are removed afterwards.

What is checked, the README's claims: a comment line directly under a command is a claim about
that command's output when its text starts with
- `{`: the output's last line is a JSON object with every key the claim names, and the same
  value where the claim gives a plain string, number, true or false (a `...` value is not
  checked); claim lines that continue it start with `#  ` (two spaces);
- a three-digit HTTP status (`# 401`, `# 403 {"error": ...}`): the output ends with that
  status, as curl's `-w ' %{http_code}\\n'` prints it after the body, and a JSON claim after
  the status is checked against the body before it, as above;
- anything else, when it contains `...`: a pattern, `...` standing for any text, that the
  output contains (ignoring case).
Any other comment is prose.
"""

import asyncio
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from tests.cli import keygate
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.fixtures.keys_and_servers import served_keygate

pytestmark = pytest.mark.timeout(600)

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
README: Final = REPO_ROOT / "README.md"
SHELLS: Final = ("sh", "bash", "shell")
SKIP: Final = re.compile(r"<!--\s*readme-test:\s*skip\s*\((?P<why>[^)]+)\)\s*-->")
STATUS_CLAIM: Final = re.compile(r"^(?P<status>[1-5]\d\d)(?:\s+(?P<rest>.*))?$")
JSON_FIELD: Final = re.compile(r'"(?P<key>[^"]+)"\s*:\s*(?P<value>"[^"]*"|true|false|-?\d+)?')
MARK: Final = "@@readme"
JWT_SECRET: Final = "readme-test-secret-of-at-least-thirty-two-bytes"
SHELL_SECONDS: Final = 420


@dataclass
class Claim:
    line: int  # in README.md
    text: str
    command: str  # the first line of the command it is about
    output: str = ""


@dataclass
class Block:
    line: int  # of the opening fence in README.md
    lines: list[str]
    skip: str | None
    claims: list[Claim] = field(default_factory=list)

    @property
    def first_command(self) -> str:
        commands = [x.strip() for x in self.lines if x.strip() and not x.strip().startswith("#")]
        return commands[0] if commands else "(no command)"


def shell_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[number])
        if not fence:
            number += 1
            continue
        end = number + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        if fence.group(1) in SHELLS:
            above = lines[number - 1] if number else ""
            skipped = SKIP.search(above)
            blocks.append(
                Block(
                    number + 1, lines[number + 1 : end], skipped.group("why") if skipped else None
                )
            )
        number = end + 1
    return blocks


def marker(text: str) -> str:
    # On a line of its own, also after output that does not end its last line (curl -s).
    return f"printf '\\n%s\\n' '{MARK} {text}'"


def is_claim(comment: str) -> bool:
    return comment.startswith("{") or bool(STATUS_CLAIM.match(comment)) or "..." in comment


def script_of(block: Block, index: int, port: int) -> str:
    """The block as bash runs it: the port rewritten, and markers around each claimed command
    so its output can be told apart."""
    lines = [
        line.replace("localhost:8000", f"localhost:{port}").replace(
            "127.0.0.1:8000", f"127.0.0.1:{port}"
        )
        for line in block.lines
    ]
    starts: dict[int, list[str]] = {}
    ends: dict[int, list[str]] = {}
    number = 0
    while number < len(lines):
        stripped = lines[number].strip()
        previous = lines[number - 1].strip() if number else ""
        command_above = bool(previous) and not previous.startswith("#")
        if stripped.startswith("# ") and command_above and is_claim(stripped[2:]):
            text = stripped[2:]
            end = number + 1
            while end < len(lines) and lines[end].startswith("#  "):
                text += " " + lines[end][3:].strip()
                end += 1
            start = number - 1
            while start > 0 and lines[start - 1].rstrip().endswith("\\"):
                start -= 1
            tag = f"{index}.{len(block.claims)}"
            block.claims.append(Claim(block.line + 1 + number, text, lines[start].strip()))
            starts.setdefault(start, []).append(marker(f"claim {tag} start"))
            ends.setdefault(number, []).append(marker(f"claim {tag} end"))
            number = end
            continue
        number += 1
    script = [marker(f"block {index}")]
    for number, line in enumerate(lines):
        script += ends.get(number, []) + starts.get(number, []) + [line]
    return "\n".join(script) + "\n"


def json_object(text: str) -> dict[str, object] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def json_mismatch(claim: str, output: str) -> str:
    """Empty when the output's last line holds what the JSON claim names."""
    last = output.strip().splitlines()[-1] if output.strip() else ""
    body = json_object(last)
    if body is None:
        return "the output's last line is not a JSON object"
    for found in JSON_FIELD.finditer(claim):
        key, value = found.group("key"), found.group("value")
        if key not in body:
            return f"no {key!r} in the output"
        if value is not None and "..." not in value and json.loads(value) != body[key]:
            return f"{key!r} is {body[key]!r}, not {json.loads(value)!r}"
    return ""


def mismatch(claim: Claim) -> str:
    output = claim.output.strip()
    status = STATUS_CLAIM.match(claim.text)
    if status:
        body, _, last = output.rpartition(" ") if " " in output else ("", "", output)
        if last.strip() != status.group("status"):
            return f"the output does not end with the status {status.group('status')}"
        rest = status.group("rest") or ""
        return json_mismatch(rest, body) if rest.startswith("{") else ""
    if claim.text.startswith("{"):
        return json_mismatch(claim.text, output)
    pattern = ".*?".join(re.escape(part) for part in claim.text.split("..."))
    if not re.search(pattern, output, re.IGNORECASE | re.DOTALL):
        return "the output does not contain it"
    return ""


def split_output(output: str, blocks: list[Block]) -> tuple[int | None, dict[int, str]]:
    """The index of the last block that started, and each block's output."""
    per_block: dict[int, list[str]] = {}
    claims = {
        f"{i}.{k}": claim for i, block in enumerate(blocks) for k, claim in enumerate(block.claims)
    }
    current: int | None = None
    open_claims: dict[str, list[str]] = {}
    for line in output.splitlines():
        marker = re.fullmatch(rf"{MARK} (block (\d+)|claim (\S+) (start|end))", line)
        if marker and marker.group(2) is not None:
            current = int(marker.group(2))
            continue
        if marker:
            tag, edge = marker.group(3), marker.group(4)
            if edge == "start":
                open_claims[tag] = []
            else:
                claims[tag].output = "\n".join(open_claims.pop(tag, []))
            continue
        for lines in open_claims.values():
            lines.append(line)
        if current is not None:
            per_block.setdefault(current, []).append(line)
    return current, {i: "\n".join(lines) for i, lines in per_block.items()}


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def fresh_readme_database(tmp_path: Path) -> str:
    name = urlsplit(TEST_DATABASE_URL).path.lstrip("/") + "_readme"
    admin = await asyncpg.connect(with_database(TEST_DATABASE_URL, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    url = with_database(TEST_DATABASE_URL, name)
    for command in ("migrate", "demo"):
        done = await keygate(command, cwd=tmp_path, DATABASE_URL=url)
        assert done.returncode == 0, done.stderr
    return url


def shell_environment(database_url: str) -> dict[str, str]:
    keygate_settings = {
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "BCRYPT_ROUNDS": "4",
        "JWT_SECRET": JWT_SECRET,
    }
    # Nothing of the caller's keygate configuration leaks in; uv, PATH and HOME do.
    passed = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("KEYGATE_", "JWT_", "APP_", "LOG_"))
        and name not in keygate_settings
    }
    return {**passed, **keygate_settings}


def test_the_readme_marks_what_it_cannot_run_with_a_reason():
    blocks = shell_blocks(README.read_text())
    assert [b for b in blocks if b.skip is None], "no README block left to run"
    text = README.read_text()
    for found in re.finditer(r"readme-test", text):
        line = text[: found.start()].count("\n") + 1
        assert SKIP.search(text.splitlines()[line - 1]), f"README.md:{line}: malformed marker"


async def test_every_shell_block_of_the_readme_runs_as_written(tmp_path):
    blocks = shell_blocks(README.read_text())
    runnable = [block for block in blocks if block.skip is None]
    database_url = await fresh_readme_database(tmp_path)
    before = set(os.listdir(REPO_ROOT))
    try:
        async with served_keygate(
            tmp_path, DATABASE_URL=database_url, JWT_SECRET=JWT_SECRET
        ) as served:
            port = int(served.url.rsplit(":", 1)[1])
            script = "\n".join(script_of(block, i, port) for i, block in enumerate(runnable))
            process = await asyncio.create_subprocess_exec(
                shutil.which("bash") or "/bin/bash",
                "-c",
                "set -euo pipefail\n" + script,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=REPO_ROOT,
                env=shell_environment(database_url),
            )
            try:
                raw, _ = await asyncio.wait_for(process.communicate(), SHELL_SECONDS)
            except TimeoutError:
                process.kill()
                await process.wait()
                raw = b""
            await served.stop()
    finally:
        # The blocks write files only (enrol.json, a key file); a directory that appeared
        # meanwhile (a tool's cache) is not theirs.
        for name in set(os.listdir(REPO_ROOT)) - before:
            path = REPO_ROOT / name
            if path.is_file():
                path.unlink()
    output = raw.decode(errors="replace")
    last, per_block = split_output(output, runnable)
    if process.returncode != 0:
        block = runnable[last] if last is not None else runnable[0]
        tail = "\n".join(per_block.get(last if last is not None else 0, "").splitlines()[-30:])
        pytest.fail(
            f"README.md:{block.line}: the block starting `{block.first_command}` failed"
            f" (bash exit status {process.returncode}); its output:\n{tail}"
        )
    failures = [
        f"README.md:{claim.line}: `{claim.command}` printed\n    {claim.output.strip()!r}\n"
        f"  but the README claims `# {claim.text}`: {problem}"
        for block in runnable
        for claim in block.claims
        if (problem := mismatch(claim))
    ]
    assert not failures, "\n".join(failures)


def claim(text: str, output: str) -> Claim:
    return Claim(line=1, text=text, command="curl", output=output)


@pytest.mark.parametrize(
    ("text", "output", "problem"),
    [
        ('{"scope": "me", "exp": ...}', '{"scope":"me","exp":1}', ""),
        ('{"scope": "me", "exp": ...}', '{"scope":"admin","exp":1}', "'scope' is 'admin'"),
        ('{"access_token": "eyJ..."}', '{"access_token":"eyJhbG"}', ""),
        ('{"sid": ...}', '{"scope":"me"}', "no 'sid'"),
        ("401", "401", ""),
        ("401", "200", "does not end with the status 401"),
        ('403 {"error": "mfa_required"}', '{"error":"mfa_required"} 403', ""),
        ('403 {"error": "mfa_required"}', '{"error":"invalid_grant"} 403', "'error' is"),
        (
            'server-timing: auth;desc="cache";dur=...',
            'Server-Timing: auth;desc="cache";dur=0.4',
            "",
        ),
        ('server-timing: auth;desc="cache";dur=...', 'server-timing: auth;desc="db";dur=9', "not"),
    ],
)
def test_a_claim_is_checked_by_its_form(text, output, problem):
    found = mismatch(claim(text, output))
    assert (problem in found) if problem else found == ""
    assert bool(found) == bool(problem)


def test_blocks_are_found_with_their_skip_reason_and_claims_under_their_command():
    text = (
        "<!-- readme-test: skip (needs docker) -->\n```sh\ndocker compose up\n```\n\n"
        "```sh\n# prose above\ncurl -s a \\\n     -d b\n# 401\n# open it and look\n```\n"
        "```python\nprint(1)\n```\n"
    )
    skipped, runnable = shell_blocks(text)
    assert (skipped.skip, runnable.skip) == ("needs docker", None)
    script = script_of(runnable, 0, 9999)
    assert [(c.line, c.text, c.command) for c in runnable.claims] == [(10, "401", "curl -s a \\")]
    lines = script.splitlines()
    assert lines.index("curl -s a \\") == lines.index(marker("claim 0.0 start")) + 1
    assert lines.index("# 401") == lines.index(marker("claim 0.0 end")) + 1
