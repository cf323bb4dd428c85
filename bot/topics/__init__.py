"""Topic queries and the index that matches entries against them."""

from bot.topics.matching import Document, StoryText, TopicIndex, document_for, matches
from bot.topics.query import (
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    Query,
    QueryError,
    Term,
    fold_tokens,
    parse_query,
)

__all__ = [
    "MAX_QUERY_LENGTH",
    "MAX_TERMS",
    "Document",
    "Query",
    "QueryError",
    "StoryText",
    "Term",
    "TopicIndex",
    "document_for",
    "fold_tokens",
    "matches",
    "parse_query",
]
