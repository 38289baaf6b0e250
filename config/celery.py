import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def database_connections_tidy(sender=None, **kwargs) -> None:
    """What Django does around each web request, around each task: drop a connection that broke,
    was left inside a transaction or outlived CONN_MAX_AGE, and keep the others. Celery's Django
    fixup would otherwise close every connection after every task (see CELERY_DB_REUSE_MAX), and
    a new PostgreSQL connection per task cost more than a no-change sync itself. Not for a task
    run eagerly: it runs inside its caller's request or transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    close_old_connections()
