"""Tokens at scale, the CI size of bench/tokens_at_scale.py: 40 companies whose access tokens have
all expired, a real Celery worker with 4 prefork processes, the Fortnox sandbox served by gunicorn
over HTTP and rotating refresh tokens like Fortnox, three companies whose refresh answer is lost
after Fortnox committed the rotation. Counts only, no clock.

Everything the run shares is in this test's database (its own per xdist worker) and its tmp_path
(broker, e-mails, tallies); the servers listen on free ports."""

import pytest

from bench.tokens_at_scale import database_url, run

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

COMPANIES = 40
LOST = 3


def test_every_company_is_refreshed_once_and_a_lost_answer_costs_only_its_company(tmp_path):
    result = run(
        tenants=COMPANIES,
        processes=4,
        copies=3,
        lose=LOST,
        server_workers=1,
        database_url=database_url(),
        folder=tmp_path,
    )
    healthy = result.healthy()
    lost = set(result.lost)

    # The race really happened: a company's syncs and keep-alives ran in several processes at once.
    assert max(result.together.values()) >= 2
    assert len(lost) == LOST
    assert len(healthy) == COMPANIES - LOST
    # Fortnox (the sandbox) made exactly one new pair per company, the lost ones included.
    assert {result.refreshes[t] for t in result.refreshes} == {1}
    assert result.answers["ok"] == COMPANIES - LOST
    assert result.answers["lost"] == LOST
    # Nobody ever sent a used refresh token, except a lost company, to find it dead: once, or
    # twice when that answer too came too late on a machine loaded with other tests (the sandbox
    # server is one gunicorn process); the full benchmark reports the exact counts.
    assert set(result.invalid_by_tenant) <= lost, result.invalid_by_tenant
    assert all(1 <= n <= 2 for n in result.invalid_by_tenant.values()), result.invalid_by_tenant
    assert set(result.needs_reactivation) == lost
    assert result.emails == {t: 1 for t in lost}
    for tenant in healthy:
        succeeded, failed, other = result.runs[tenant]
        assert succeeded >= 1 and failed == 0 and other == 0, (tenant, result.runs[tenant])
    assert result.problems() == []
