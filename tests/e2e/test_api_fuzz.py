"""Schema-driven fuzzing: schemathesis (a tool nobody here wrote) reads the live app's
/api/schema/ and throws generated requests at every operation with a real token, with every
check on — no 5xx, every status and content type documented, every response matching its
schema, schema-valid requests accepted, schema-violating ones rejected, deleted things gone,
authentication not ignored. The run must end with 0 failures.

It is bounded (a fixed seed and a fixed number of examples per operation: a few minutes on two
cores) and reproducible: the seed is printed with the command in the log
(test-output/e2e/schemathesis-*.txt); ``CRIER_FUZZ_SEED`` / ``CRIER_FUZZ_EXAMPLES`` change it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Account, LiveApp
from tests.e2e.helpers import api_token, create_ready_corpus

pytestmark = pytest.mark.e2e

SEED = int(os.environ.get("CRIER_FUZZ_SEED", "20261126"))
EXAMPLES = int(os.environ.get("CRIER_FUZZ_EXAMPLES", "100"))
RUN_TIMEOUT_S = 900
# Revoking the key sent, or any key of one's own by id: run on a user of its own.
REVOKE = ["v1_auth_token_revoke_destroy", "v1_auth_keys_destroy"]

# Every check runs (schemathesis 4 enables all of them by default), every phase (examples,
# coverage, fuzzing and the stateful phase that follows the schema's links), with no
# per-operation relaxation: where a schema cannot say what the app refuses, the app was changed
# to take it (docs/api.md, "Every schema-valid request is answerable"). The hooks teach the
# generator which bytes are a picture, which the schema says but cannot spell out.
HOOKS = Path(__file__).with_name("fuzz_hooks.py")
CONFIG = f"""
hooks = "{HOOKS}"

[generation]
max-examples = {EXAMPLES}
database = "none"

[phases.stateful]
enabled = true
"""


def run_schemathesis(
    live_app: LiveApp, tmp_path: Path, *, token: str, name: str, operations: list[str]
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / f"{name}.toml"
    config.write_text(CONFIG)
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(config),
        "run",
        live_app.url("/api/schema/"),
        "--header",
        f"Authorization: Bearer {token}",
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "120",
        "--no-color",
        *operations,
    ]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    (live_app.log_dir / f"schemathesis-{name}.txt").write_text(result.stdout + result.stderr)
    return result


def test_the_api_passes_schemathesis_with_every_check(
    live_app: LiveApp, make_account, tmp_path: Path
) -> None:
    account: Account = make_account("fuzzer")
    token = api_token(live_app.base_url, account.username, account.password)
    # Something real to find: a ready corpus, which the stateful phase reaches by its links.
    create_ready_corpus(
        live_app.base_url, token, "fuzzed", ["coffee.png", "chelsea.png", "rocket.jpg"]
    )

    result = run_schemathesis(
        live_app,
        tmp_path,
        token=token,
        name="all",
        operations=[arg for op in REVOKE for arg in ("--exclude-operation-id", op)],
    )
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    assert "generated" in result.stdout  # it really ran cases


def test_token_revocation_passes_schemathesis_on_its_own_user(
    live_app: LiveApp, make_account, tmp_path: Path
) -> None:
    """Revoking the key makes every later request with it a 401: it runs with a user of its own
    so that it cannot cut the main run short."""
    account: Account = make_account("revoker")
    token = api_token(live_app.base_url, account.username, account.password)
    result = run_schemathesis(
        live_app,
        tmp_path,
        token=token,
        name="revoke",
        operations=[arg for op in REVOKE for arg in ("--include-operation-id", op)],
    )
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
