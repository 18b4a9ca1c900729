"""Background work: the job queue (pgqueuer on the gateway's PostgreSQL), the worker, the
periodic jobs, the notification outbox and its delivery, and retention.

    config.py          the worker's settings (GATEWAY_JOBS__...)
    queue.py           the jobs, their schedules, retries; enqueue
    worker.py          `gateway worker`: run jobs until a signal
    segments.py        job: segment membership refresh
    reminders.py       job: reminder scheduling (the adapter to the reminder rules)
    outbox.py          the outbox: queue with decision records, claim, record outcomes
    delivery_rules.py  per message: send, cancel or wait (consent, channel, quiet hours, cap)
    delivery.py        job: deliver due messages
    sinks.py           webhook (signed) and log sinks
    partitions.py      time partitions: create ahead, drop, trim
    retention.py       job: retention
    retrain.py         job: the model retraining hook
    status.py          the queue's state for admins; schema.py its GraphQL query

Dependencies point down: jobs imports resolvers, privacy and sql; nothing below imports jobs.
"""
