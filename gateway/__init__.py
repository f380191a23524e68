"""A webhook data-connector push gateway compatible with Disruptive Technologies' REST API v2."""

__version__ = "0.1.0"
