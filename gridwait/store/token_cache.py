"""Cached token lengths (see estimators/tokens.py)."""

from __future__ import annotations

import zlib
from datetime import datetime

import numpy as np

from gridwait.store.engine import Store
from gridwait.store.models import TokenLengths


class TokenLengthCache:
    """The estimator's LengthCache, kept in the database."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.now = now

    def get(self, key: str) -> np.ndarray | None:
        with self.store.read() as session:
            row = session.get(TokenLengths, key)
        if row is None:
            return None
        data = np.frombuffer(zlib.decompress(row.lengths), dtype="<u4").astype(np.int64)
        return data if len(data) == row.examples else None

    def put(self, key: str, lengths: np.ndarray) -> None:
        blob = zlib.compress(lengths.astype("<u4").tobytes(), 6)
        with self.store.write() as session:
            session.merge(
                TokenLengths(key=key, examples=len(lengths), lengths=blob, created_at=self.now)
            )
