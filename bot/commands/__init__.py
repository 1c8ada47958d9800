"""Chat commands, written once for every platform: Incoming -> Reply."""
