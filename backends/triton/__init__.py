"""Triton Inference Server: the client (HTTP and gRPC through tritonclient), test inputs
built from a model's metadata, the model repository check and the load test.

Nothing here knows where the server runs: callers hand in a :class:`TritonEndpoint` (a
direct URL, or the local end of a port-forward the Kubernetes backend opened).
"""
