"""Query/Retrieve and worklist matching: the engine, an instance index, worklist sources."""

from __future__ import annotations

from .index import InstanceIndex, InstanceRecord
from .matching import (
    ConversionError,
    MatchType,
    match_dataset,
    match_element,
    match_strings,
    matching_type,
)
from .models import InformationModel, Operation, model_for
from .query import KeySupport, Match, Query, QueryError, find_matches, parse_query, select_instances

__all__ = [
    "ConversionError",
    "InformationModel",
    "InstanceIndex",
    "InstanceRecord",
    "KeySupport",
    "Match",
    "MatchType",
    "Operation",
    "Query",
    "QueryError",
    "find_matches",
    "match_dataset",
    "match_element",
    "match_strings",
    "matching_type",
    "model_for",
    "parse_query",
    "select_instances",
]
