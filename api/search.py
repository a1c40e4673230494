"""Search over messages and contacts of the signed-in user's tenant."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import login_required
from api.db import db
from api.schemas import SearchPage, SearchQuery
from models.services import search

blp = Blueprint("search", __name__, url_prefix="/api/search", description="Full-text search")


@blp.route("")
class Search(MethodView):
    @login_required()
    @blp.arguments(SearchQuery, location="query")
    @blp.response(200, SearchPage)
    @blp.alt_response(422, description="no word to search for, or a bad filter or cursor")
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Messages (ranked, filtered by ticket and date) or contacts matching words, in keyset pages"""
        filters = search.Filters(**{k: query.get(k) for k in ("status", "queue_id", "agent_id", "channel_id",
                                                                "since", "until")})
        if query["scope"] == "contacts":
            items, cursor = search.search_contacts(db(), g.user, query["q"], filters, query.get("cursor"),
                                                   query["limit"])
        else:
            items, cursor = search.search_messages(db(), g.user, query["q"], filters, query["sort"],
                                                   query.get("cursor"), query["limit"])
        return {"items": items, "next_cursor": cursor}
