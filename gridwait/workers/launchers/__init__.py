"""Launchers: how workers are started (local processes; Slurm jobs)."""
