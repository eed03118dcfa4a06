"""Schemathesis against /openapi.json of a live server: generated requests to every operation, no server error.

Bounded on purpose (a few examples per operation, SQLite only): it looks for crashes, not for every edge.
The operations are driven with Hypothesis directly: schemathesis' pytest plugin reads a private pytest attribute
that pytest 9 removed (``Function._nodeid``).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from aicrm.web.routes import iter_routes
from tests.web.live import live  # noqa: F401

EXAMPLES = 4


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_fuzz_api__no_server_errors(live):
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    # Changing users' passwords and roles at random would only test argon2's patience; tests/auth covers users.
    schema = schema.exclude(path_regex=r"^/api/users")
    headers = {"Authorization": f"Bearer {live.token('admin')}"}
    if any(path == "/api/assistant/messages" for path, _, _ in iter_routes(live.app)):
        # The assistant loads its language model on the first message (many seconds on a busy machine); the fuzzer's
        # per-request timeout would report that first call as a failure that does not reproduce.
        live.client("admin").post("/api/assistant/messages", json={"text": "hello"}, timeout=120)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {str(exc).strip()[:800]}")
    assert operations >= 20
    assert not failures, "\n\n".join(failures)
    served = live.app.state.metrics.requests.collect()[0].samples
    assert sum(s.value for s in served if s.name == "http_requests_total") >= 2 * operations
