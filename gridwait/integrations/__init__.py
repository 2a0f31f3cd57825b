"""Hooks for training code that gridwait runs as a script job."""
