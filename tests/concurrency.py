import threading
from collections.abc import Callable

from django.db import connection


def run_concurrently(count: int, function: Callable[[], object]) -> list[object]:
    """Start `count` threads that call `function` at the same moment; returns what each returned.
    Each thread closes its own database connection, so the test database can be dropped."""
    barrier = threading.Barrier(count)
    results: list[object] = []
    errors: list[BaseException] = []

    def call():
        try:
            barrier.wait()
            results.append(function())
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
