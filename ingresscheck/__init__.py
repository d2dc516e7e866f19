"""ingresscheck: diagnostics and conformance checks for Kubernetes ingress."""

__version__ = "0.1.0"
__all__ = ["__version__"]
