"""The WebSocket edge's part in account deletion (imported by ``ieltsprep.accounts.privacy``).

Connection records are keyed by connection id, not by user, so the generic erase of ``USER#<id>`` partitions
misses them; they expire within hours, but a deleted account must leave nothing behind now.
"""

from __future__ import annotations

from ieltsprep.accounts.privacy import register_eraser
from ieltsprep.edges.ws.relay import erase_user_connections

register_eraser(erase_user_connections)
