"""Notifications: what happened to a job, told to its owner and to the lab through apprise
(e-mail, Slack, Matrix, Teams...).

- `base`: the `Notifier` contract, messages and deliveries, masking of secret URLs.
- `apprise_notifier`: the real notifier; `recording`: one that keeps what it was given.
- `messages`: the words of each message, from plain values (pure).
- `outbox`: reads the job events the store wrote since last time and sends each once.
"""
