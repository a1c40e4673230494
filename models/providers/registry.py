"""The channel adapters, keyed by `ChannelKind`: the one place that knows which module serves which kind."""

from __future__ import annotations

from models.org import ChannelKind
from models.providers import sandbox, sendgrid, twilio, whatsapp
from models.providers.adapter import ChannelAdapter

ADAPTERS: dict[ChannelKind, ChannelAdapter] = {
    adapter.kind: adapter for adapter in (whatsapp.ADAPTER, twilio.ADAPTER, sendgrid.ADAPTER, sandbox.ADAPTER)
}


def adapter_for(kind: ChannelKind) -> ChannelAdapter:
    """The adapter serving channels of `kind`; KeyError for a kind nobody implements."""
    return ADAPTERS[kind]
