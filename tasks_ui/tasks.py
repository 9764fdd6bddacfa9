"""Background tasks, run by `manage.py db_worker` (django.tasks with the django-tasks-db backend)."""

from django.tasks import task

from tasks_ui.services import batches


@task()
def advance_batch(batch_id: str) -> None:
    """Run one step of a batch, after queueing the step that follows.

    The next step is queued first, so that a worker that stops in the middle of this one leaves the
    batch's next step in the queue for the worker that starts after it.
    """
    if not batches.batch_needs_worker(batch_id):
        return
    batches.schedule_step(batch_id, delay=batches.tick_seconds())
    batches.batch_advance(batch_id)
    batches.postpone_step(batch_id)
