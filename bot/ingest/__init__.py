"""Ingest: store new papers, match them against the watches, enqueue deliveries."""
