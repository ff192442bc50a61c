from __future__ import annotations

import pytest
from django_q.models import Schedule

pytestmark = pytest.mark.django_db  # not transactional: data migrations' rows are still there


def test_migrations_schedule_expiry_every_minute_and_the_orphan_sweep():
    expiry = Schedule.objects.get(func="corpora.tasks.expire_corpora")
    assert (expiry.schedule_type, expiry.minutes, expiry.repeats) == (Schedule.MINUTES, 1, -1)
    sweep = Schedule.objects.get(func="corpora.tasks.sweep_orphans")
    assert sweep.schedule_type == Schedule.MINUTES and sweep.minutes == 60
