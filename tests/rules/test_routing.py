from models.rules.routing import DEFAULT, TriageConfig, route_menu_answer, route_new

CONFIG = TriageConfig.from_doc({
    "greeting": "Olá! Sou o assistente da Acme.",
    "menu": {"prompt": "1 - Suporte\n2 - Vendas", "options": {"1": "Support", "2": "Sales", "vendas": "Sales"},
             "max_attempts": 2},
    "keywords": [{"words": ["fatura", "boleto"], "queue": "Billing"}],
    "off_hours_reply": "Estamos fechados; respondemos às 8h.",
    "fallback_reply": "Vou te passar para um atendente.",
})


def test_a_new_ticket_gets_greeting_and_menu() -> None:
    d = route_new(CONFIG, "oi", open_now=True)
    assert d.queue is None and d.replies == ["Olá! Sou o assistente da Acme.", "1 - Suporte\n2 - Vendas"]


def test_keywords_route_at_once_ignoring_case_and_accents() -> None:
    assert route_new(CONFIG, "Minha FATURA veio errada", open_now=True).queue == "Billing"
    assert route_menu_answer(CONFIG, "segunda via do boleto", 1).queue == "Billing"


def test_off_hours_adds_the_auto_reply() -> None:
    assert "Estamos fechados; respondemos às 8h." in route_new(CONFIG, "oi", open_now=False).replies


def test_menu_answers_route_and_wrong_ones_reprompt_then_give_up() -> None:
    assert route_menu_answer(CONFIG, " 2 ", 0).queue == "Sales"
    assert route_menu_answer(CONFIG, "Vendas", 0).queue == "Sales"
    wrong = route_menu_answer(CONFIG, "banana", 0)
    assert wrong.queue is None and wrong.attempts == 1 and "1 - Suporte" in wrong.replies[0]
    last = route_menu_answer(CONFIG, "banana", 1)
    assert last.queue == DEFAULT and last.replies == ["Vou te passar para um atendente."]


def test_without_a_menu_everything_goes_to_the_default_queue() -> None:
    assert route_new(TriageConfig(), "oi", open_now=True).queue == DEFAULT
