"""Paper sources: one module per source, each turning outside items into `Paper`."""
