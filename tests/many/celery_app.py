"""The Celery app the Celery tests' worker processes run: ``celery -A tests.many.celery_app``.

The broker is ``TEXTFLOW_TEST_BROKER`` (a Redis the test started); a message a
worker took but did not acknowledge is delivered again after 3 seconds.
"""

from __future__ import annotations

import os

from celery import Celery

from textflow.integrations.celery import make_send_chunk_task

app = Celery("textflow_tests", broker=os.environ.get("TEXTFLOW_TEST_BROKER", "memory://"))
app.conf.update(
    broker_transport_options={"visibility_timeout": 3},
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    task_default_queue="textflow-tests",
)
send_chunk = make_send_chunk_task(app)
