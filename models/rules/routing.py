"""Triage routing: which queue a customer's message goes to, and what the bot answers. Pure: no I/O, no clock."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def _fold(text: str) -> str:
    """Lower-case without accents, so "Fatura" matches "fatura" and "não" matches "nao"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


@dataclass(frozen=True)
class KeywordRule:
    words: tuple[str, ...]
    queue: str | None  # None: the rule only labels
    labels: tuple[str, ...] = ()  # label names put on the ticket when a customer message matches


@dataclass(frozen=True)
class Menu:
    prompt: str
    options: Mapping[str, str]  # answer ("1", "vendas") -> queue name
    max_attempts: int = 3
    timeout_seconds: int = 600
    invalid_reply: str = "Não entendi. Responda com uma das opções:"


@dataclass(frozen=True)
class TriageConfig:
    """A channel's triage settings (`channels.settings["triage"]`)."""

    greeting: str | None = None
    menu: Menu | None = None
    keywords: tuple[KeywordRule, ...] = ()
    off_hours_reply: str | None = None
    fallback_reply: str | None = None  # said when the menu gives up and sends to the default queue
    reopen_window_seconds: int = 0  # a ticket resolved less than this ago is reopened instead of a new one

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> TriageConfig:
        """Parse the JSON settings; a ValueError names the bad field."""
        doc = doc or {}
        menu = None
        if doc.get("menu"):
            m = doc["menu"]
            options = m.get("options")
            if not isinstance(options, Mapping) or not options:
                raise ValueError("triage.menu.options: a non-empty object of answer -> queue name")
            menu = Menu(prompt=str(m.get("prompt", "")), options={_fold(k): str(v) for k, v in options.items()},
                        max_attempts=int(m.get("max_attempts", 3)), timeout_seconds=int(m.get("timeout_seconds", 600)),
                        invalid_reply=str(m.get("invalid_reply", Menu.invalid_reply)))
        rules = []
        for i, rule in enumerate(doc.get("keywords", [])):
            words = rule.get("words") if isinstance(rule, Mapping) else None
            labels = rule.get("labels", []) if isinstance(rule, Mapping) else []
            if not isinstance(labels, list) or not all(isinstance(x, str) and x.strip() for x in labels):
                raise ValueError(f"triage.keywords[{i}].labels: a list of label names")
            if not words or not (rule.get("queue") or labels):
                raise ValueError(f"triage.keywords[{i}]: needs 'words' and 'queue' (or 'labels')")
            rules.append(KeywordRule(tuple(_fold(w) for w in words), str(rule["queue"]) if rule.get("queue") else None,
                                     tuple(x.strip() for x in labels)))
        return cls(greeting=doc.get("greeting"), menu=menu, keywords=tuple(rules),
                   off_hours_reply=doc.get("off_hours_reply"), fallback_reply=doc.get("fallback_reply"),
                   reopen_window_seconds=int(doc.get("reopen_window_seconds", 0)))


DEFAULT = "__default__"  # route to the channel's default queue


@dataclass(frozen=True)
class Decision:
    """What triage does with one customer message."""

    queue: str | None  # a queue name, DEFAULT, or None to stay with the bot
    replies: Sequence[str] = field(default_factory=tuple)
    attempts: int = 0


def _matching(config: TriageConfig, text: str) -> list[KeywordRule]:
    words = set(re.findall(r"\w+", _fold(text)))
    folded = _fold(text)
    return [rule for rule in config.keywords
            if any((w in words) if " " not in w else (w in folded) for w in rule.words)]


def _keyword_queue(config: TriageConfig, text: str) -> str | None:
    return next((rule.queue for rule in _matching(config, text) if rule.queue), None)


def keyword_labels(config: TriageConfig, text: str) -> tuple[str, ...]:
    """Label names of every keyword rule the message matches (in rule order, each once)."""
    if not any(rule.labels for rule in config.keywords):
        return ()
    names: dict[str, None] = {}
    for rule in _matching(config, text):
        names.update(dict.fromkeys(rule.labels))
    return tuple(names)


def route_new(config: TriageConfig, text: str, open_now: bool) -> Decision:
    """The first message of a new ticket."""
    replies = [config.greeting] if config.greeting else []
    if not open_now and config.off_hours_reply:
        replies.append(config.off_hours_reply)
    keyword = _keyword_queue(config, text)
    if keyword:
        return Decision(keyword, replies)
    if config.menu is not None:
        choice = config.menu.options.get(_fold(text))
        if choice:  # answered the menu before seeing it ("2")
            return Decision(choice, replies)
        return Decision(None, [*replies, config.menu.prompt])
    return Decision(DEFAULT, replies)


def route_menu_answer(config: TriageConfig, text: str, attempts: int) -> Decision:
    """A message on a ticket still at the menu: a valid option routes, a wrong one re-prompts, too many give up."""
    menu = config.menu
    if menu is None:
        return Decision(DEFAULT)
    choice = menu.options.get(_fold(text)) or _keyword_queue(config, text)
    if choice:
        return Decision(choice, ())
    attempts += 1
    if attempts >= menu.max_attempts:
        return Decision(DEFAULT, [config.fallback_reply] if config.fallback_reply else [], attempts)
    return Decision(None, [f"{menu.invalid_reply}\n{menu.prompt}"], attempts)
