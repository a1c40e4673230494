from models.providers.sendgrid import ticket_token
from models.rules.reply_address import reply_address, ticket_of


def test_round_trip_and_forgery() -> None:
    address = reply_address("support@acme.example", 42, "s3cret")
    assert address.startswith("support+t42x") and address.endswith("@acme.example")
    assert ticket_of(ticket_token(address), "s3cret") == 42
    assert ticket_of(ticket_token(address.upper()), "s3cret") == 42  # case folded by a mail system
    assert ticket_of(ticket_token(address), "other") is None
    assert ticket_of(ticket_token(address.replace("+t42x", "+t43x")), "s3cret") is None  # guessed neighbour
    assert ticket_of(None, "s3cret") is None and ticket_of("t42", "s3cret") is None
