from datetime import UTC, datetime, timedelta

from models.rules.assignment import Candidate, choose_agent

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_least_busy_prefers_fewest_open_tickets() -> None:
    chosen = choose_agent([Candidate(1, 2, 5), Candidate(2, 0, 5), Candidate(3, 1, 5)], "least_busy")
    assert chosen is not None and chosen.agent_id == 2


def test_nobody_at_capacity_gets_a_ticket() -> None:
    assert choose_agent([Candidate(1, 3, 3), Candidate(2, 5, 5)], "least_busy") is None


def test_least_busy_ties_go_to_who_waited_longest() -> None:
    a = Candidate(1, 1, 5, last_assigned_at=T0)
    b = Candidate(2, 1, 5, last_assigned_at=T0 - timedelta(minutes=5))
    chosen = choose_agent([a, b], "least_busy")
    assert chosen is not None and chosen.agent_id == 2


def test_round_robin_rotates_over_never_assigned_first() -> None:
    pool = [Candidate(1, 0, 5, T0), Candidate(2, 3, 5, None), Candidate(3, 0, 5, T0 - timedelta(seconds=1))]
    chosen = choose_agent(pool, "round_robin")
    assert chosen is not None and chosen.agent_id == 2


def test_skills_require_every_skill() -> None:
    pool = [Candidate(1, 0, 5, skills=frozenset({"pt"})), Candidate(2, 4, 5, skills=frozenset({"pt", "en"}))]
    chosen = choose_agent(pool, "skills", ["pt", "en"])
    assert chosen is not None and chosen.agent_id == 2
    assert choose_agent(pool, "skills", ["es"]) is None
