"""Knowledge about nginx.ingress.kubernetes.io annotations: the names ingress-nginx defines, which
ones each controller honours, and the likely intended name of a misspelled one.

A misspelled annotation is silently ignored by every controller: ``auth-typ: basic`` leaves a
site open without an error anywhere. That is why the names are checked at all.
"""

from __future__ import annotations

import difflib

PREFIX = "nginx.ingress.kubernetes.io/"

# ingress-nginx's annotation names (user guide, annotations reference).
NGINX = frozenset(
    """
app-root affinity affinity-canary-behavior affinity-mode allowlist-source-range auth-always-set-cookie
auth-cache-duration
auth-cache-key auth-keepalive auth-keepalive-requests auth-keepalive-share-vars auth-keepalive-timeout auth-method
auth-proxy-set-headers auth-realm auth-request-redirect auth-response-headers auth-secret auth-secret-type auth-signin
auth-signin-redirect-param auth-snippet auth-tls-error-page auth-tls-match-cn auth-tls-pass-certificate-to-upstream
auth-tls-secret auth-tls-verify-client auth-tls-verify-depth auth-type auth-url backend-protocol canary canary-by-cookie
canary-by-header canary-by-header-pattern canary-by-header-value canary-weight canary-weight-total
client-body-buffer-size configuration-snippet connection-proxy-header cors-allow-credentials cors-allow-headers
cors-allow-methods cors-allow-origin cors-expose-headers cors-max-age custom-headers custom-http-errors default-backend
denylist-source-range disable-proxy-intercept-errors enable-access-log enable-cors enable-modsecurity
enable-opentelemetry enable-owasp-core-rules enable-rewrite-log force-ssl-redirect from-to-www-redirect
global-rate-limit http2-push-preload limit-burst-multiplier limit-connections limit-rate limit-rate-after limit-rpm
limit-rps limit-whitelist load-balance mirror-host mirror-request-body mirror-target modsecurity-snippet
modsecurity-transaction-id opentelemetry-trust-incoming-span permanent-redirect permanent-redirect-code
preserve-trailing-slash proxy-body-size proxy-buffer-size proxy-buffering proxy-buffers-number proxy-connect-timeout
proxy-cookie-domain proxy-cookie-path proxy-http-version proxy-max-temp-file-size proxy-next-upstream
proxy-next-upstream-timeout proxy-next-upstream-tries proxy-read-timeout proxy-redirect-from proxy-redirect-to
proxy-request-buffering proxy-send-timeout proxy-ssl-ciphers proxy-ssl-name proxy-ssl-protocols proxy-ssl-secret
proxy-ssl-server-name proxy-ssl-verify proxy-ssl-verify-depth rewrite-target satisfy server-alias server-snippet
service-upstream session-cookie-change-on-failure session-cookie-conditional-samesite-none session-cookie-domain
session-cookie-expires session-cookie-max-age session-cookie-name session-cookie-path session-cookie-samesite
session-cookie-secure ssl-ciphers ssl-passthrough ssl-prefer-server-ciphers ssl-redirect stream-snippet
temporal-redirect temporal-redirect-code upstream-hash-by upstream-hash-by-subset upstream-hash-by-subset-size
upstream-vhost use-regex whitelist-source-range x-forwarded-prefix
""".split()
)

# What Traefik 3.7's kubernetesIngressNGINX provider reads (its annotation parser and routing reference);
# everything else in NGINX is ignored by it.
TRAEFIK = frozenset(
    """
app-root affinity allowlist-source-range auth-realm auth-response-headers auth-secret auth-secret-type auth-signin
auth-tls-pass-certificate-to-upstream auth-tls-secret auth-tls-verify-client auth-type auth-url backend-protocol canary
canary-by-cookie canary-by-header canary-by-header-pattern canary-by-header-value canary-weight canary-weight-total
client-body-buffer-size configuration-snippet cors-allow-credentials cors-allow-headers cors-allow-methods
cors-allow-origin cors-expose-headers cors-max-age custom-headers custom-http-errors default-backend enable-access-log
enable-cors force-ssl-redirect from-to-www-redirect limit-burst-multiplier limit-connections limit-rpm limit-rps
permanent-redirect permanent-redirect-code proxy-body-size proxy-buffer-size proxy-buffering proxy-buffers-number
proxy-connect-timeout proxy-max-temp-file-size proxy-next-upstream proxy-next-upstream-timeout
proxy-next-upstream-tries proxy-read-timeout proxy-request-buffering proxy-send-timeout proxy-ssl-name
proxy-ssl-secret proxy-ssl-server-name proxy-ssl-verify rewrite-target server-snippet service-upstream
session-cookie-domain session-cookie-expires session-cookie-max-age session-cookie-name session-cookie-path
session-cookie-samesite session-cookie-secure ssl-passthrough ssl-redirect temporal-redirect temporal-redirect-code
upstream-hash-by upstream-vhost use-regex whitelist-source-range x-forwarded-prefix
""".split()
)

SUPPORTED = {"ingress-nginx": NGINX, "traefik": TRAEFIK}


def nginx_names(annotations: dict[str, str]) -> list[str]:
    """The nginx annotation names set on an object, without the prefix."""
    return [k[len(PREFIX) :] for k in annotations if k.startswith(PREFIX)]


def unknown(annotations: dict[str, str]) -> list[tuple[str, str | None]]:
    """(name, likely intended name or None) for every nginx annotation ingress-nginx does not define."""
    out = []
    for name in nginx_names(annotations):
        if name not in NGINX:
            out.append((name, suggest(name)))
    return out


def suggest(name: str) -> str | None:
    normalized = name.lower().replace("_", "-").replace(".", "-").strip("-")
    if normalized in NGINX:
        return normalized
    close = difflib.get_close_matches(normalized, sorted(NGINX), n=1, cutoff=0.75)
    return close[0] if close else None


def ignored_by(controller: str, annotations: dict[str, str]) -> list[str]:
    """Known nginx annotations that ``controller`` does not implement."""
    supported = SUPPORTED.get(controller)
    if supported is None:
        return []
    return [n for n in nginx_names(annotations) if n in NGINX and n not in supported]
