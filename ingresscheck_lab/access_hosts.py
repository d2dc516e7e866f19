"""The access-control hosts of the lab (issue 21) and their addresses: what the LB template, the objects
and the tests share. Everything else about them lives in ``access``."""

from __future__ import annotations

from .layout import EXAMPLE_DOMAIN

ACCESS_NS = "access"
SSO_HOST = f"sso.{EXAMPLE_DOMAIN}"  # external auth: oauth2-proxy in front of a real OIDC issuer
MTLS_HOST = f"mtls.{EXAMPLE_DOMAIN}"  # client certificates from the lab's client CA
INTERNAL_HOST = f"internal.{EXAMPLE_DOMAIN}"  # a source allowlist
LIMITED_HOST = f"limited.{EXAMPLE_DOMAIN}"  # limit-rps
ACCESS_HOSTS = (SSO_HOST, MTLS_HOST, INTERNAL_HOST, LIMITED_HOST)

# one /24 of loopback for this part of the lab: pods, the auth service, the issuer and the vantage points
OAUTH2_PROXY_IP = "127.0.21.2"
ISSUER_IP = "127.0.21.3"
POD_IPS = {
    "sso-app": "127.0.21.11",
    "mtls-app": "127.0.21.12",
    "internal-app": "127.0.21.13",
    "limited-app": "127.0.21.14",
}
ALLOWED_RANGE = "127.0.21.64/26"  # internal.example.test's whitelist-source-range
INSIDE_SOURCE = "127.0.21.70"  # a client address inside the range
OUTSIDE_SOURCE = "127.0.21.200"  # and one outside it
LIMIT_RPS = 2
# a bucket of 10 requests: what the other probes of a run send the host (redirect, TLS, HTTP, HSTS, routing) fits
LIMIT_BURST_MULTIPLIER = 5
