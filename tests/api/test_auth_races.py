"""A login racing a password change never leaves a session opened with the old password (real PostgreSQL)."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models import AuthSession
from models.base import utcnow
from models.services.accounts import authenticate, change_password, start_session

TTL = 3600


def test_a_password_change_committed_during_a_login_refuses_that_login(sessions: sessionmaker[Session],
                                                                       tenants: dict[str, Any]) -> None:
    with sessions() as login, sessions() as other:
        user = authenticate(login, "acme", "ana@acme.example", "pw-ana")  # the old password checks out...
        assert user is not None
        verified = user.password_hash
        ana = other.get_one(type(user), user.id)
        change_password(other, ana, "pw-ana", "changed-meanwhile", utcnow())  # ...then it changes
        other.commit()
        assert start_session(login, user, verified, utcnow(), TTL) is None
        login.commit()
        assert login.query(AuthSession).count() == 0


def test_a_password_change_waiting_on_a_login_ends_the_session_it_opened(sessions: sessionmaker[Session],
                                                                         tenants: dict[str, Any]) -> None:
    with sessions() as login:
        user = authenticate(login, "acme", "ana@acme.example", "pw-ana")
        assert user is not None
        family = start_session(login, user, user.password_hash, utcnow(), TTL)  # holds the user row's lock
        assert family is not None
        ended: list[list[str]] = []

        def change() -> None:
            with sessions() as other:
                ana = other.get_one(type(user), user.id)
                ended.append(change_password(other, ana, "pw-ana", "changed-after", utcnow()))
                other.commit()

        changer = threading.Thread(target=change)
        changer.start()
        changer.join(0.5)
        assert changer.is_alive()  # waiting for the login's transaction
        login.commit()
        changer.join(10)
        assert ended == [[family.id]]
    with sessions() as check:
        assert check.get_one(AuthSession, family.id).end_reason == "password_changed"
