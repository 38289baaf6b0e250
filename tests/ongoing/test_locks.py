"""The per-goods-owner lock holds between processes, with Redis and without it, and a dead worker
cannot keep it."""

import multiprocessing
import os
import uuid

import pytest

from ongoing.locks import LockNotAcquired, goods_owner_lock

REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture(params=["file", "redis"])
def backend(request, settings, tmp_path):
    settings.ONGOING_LOCK_DIR = tmp_path
    if request.param == "redis":
        if not REDIS_URL:
            pytest.skip("needs Redis (set REDIS_URL)")
        settings.REDIS_URL = REDIS_URL
    else:
        settings.REDIS_URL = ""
    return request.param


def _hold(key, taken, release, die):
    with goods_owner_lock(key, wait=5):
        taken.set()
        if die:
            os._exit(0)  # a worker killed while holding the lock
        release.wait(10)


def _holder(key, *, die=False):
    context = multiprocessing.get_context("fork")
    taken, release = context.Event(), context.Event()
    process = context.Process(target=_hold, args=(key, taken, release, die))
    process.start()
    assert taken.wait(10)
    return process, release


def test_another_process_waits_while_the_lock_is_held(backend):
    key = f"https://api.ongoingsystems.se/demo/api/v1/|{uuid.uuid4()}"
    process, release = _holder(key)
    try:
        with pytest.raises(LockNotAcquired), goods_owner_lock(key, wait=0.1):
            pass
        with goods_owner_lock(f"{key}-another-goods-owner", wait=0.1):
            pass
    finally:
        release.set()
        process.join(10)
    with goods_owner_lock(key, wait=2):
        pass


def test_the_lock_is_released_after_the_block(backend):
    key = f"k|{uuid.uuid4()}"
    with goods_owner_lock(key, wait=0.1):
        pass
    with goods_owner_lock(key, wait=0.1):
        pass


def test_a_dead_worker_does_not_keep_the_lock(backend, settings):
    # The file lock dies with its process; the Redis lock expires after ONGOING_LOCK_TIMEOUT.
    settings.ONGOING_LOCK_TIMEOUT = 0.3
    key = f"k|{uuid.uuid4()}"
    process, _release = _holder(key, die=True)
    process.join(10)
    with goods_owner_lock(key, wait=2):
        pass
