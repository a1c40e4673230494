"""A tenant's webhook receiver on loopback: records every delivery with its headers, fails or hangs on request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.fakes.http import FakeProvider


@dataclass
class Receiver(FakeProvider):
    """Answers 204 to each POST; `responder` can answer otherwise (500s, a slow answer via `delay`)."""

    accepted = 204

    def parse(self, path: str, headers: Any, raw: bytes) -> dict[str, Any]:
        return {"path": path, "headers": {k.lower(): v for k, v in headers.items()}, "raw": raw,
                "body": json.loads(raw or b"{}")}

    def answer(self, record: dict[str, Any]) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        if self.responder is not None:
            return self.responder(record)
        return 204, None, {}

    def event_ids(self) -> list[str]:
        return [r["body"]["id"] for r in self.requests]
