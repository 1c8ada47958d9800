"""Operations: logging, Prometheus metrics, the health endpoint."""
