"""Watches: the query language, the matching engine, the live watch set, previews."""
