"""Chat-platform adapters: native updates <-> neutral Incoming/Reply, and send()."""
