"""Real servers for the metrics tests: Prometheus, Triton Inference Server, and a fixture
DCGM exporter (the one synthetic part: no GPU here). Install: tests/servers/setup-triton.sh."""
