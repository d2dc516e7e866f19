"""Does a certificate cover a host name? RFC 6125 matching, as browsers and TLS libraries do it.

- only subjectAltName dNSName entries count; the subject CN is ignored (a certificate without any
  subjectAltName covers nothing: clients stopped falling back to the CN);
- case-insensitive, a trailing dot is ignored, internationalized names are compared as A-labels;
- a wildcard is only a complete left-most label (``*.example.test``) and stands for exactly one
  label: it covers ``a.example.test``, not ``example.test`` nor ``a.b.example.test``;
- no partial-label wildcards (``f*.example.test``), and no wildcard over a two-label name
  (``*.test``), which would span a whole public suffix.
"""

from __future__ import annotations

import ipaddress

import idna
from cryptography import x509


def to_alabels(name: str) -> str | None:
    """``name`` in lower-case A-labels without a trailing dot, or None when it is not a valid DNS name.

    A ``*`` label is kept as is, so presented identifiers can go through the same conversion.
    """
    name = name.strip().rstrip(".")
    if not name:
        return None
    labels = []
    for label in name.split("."):
        if not label:
            return None
        if label.isascii():
            labels.append(label.lower())
            continue
        try:
            labels.append(idna.encode(label, uts46=True).decode("ascii"))
        except idna.IDNAError:
            return None
    return ".".join(labels)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def match_one(host: str, name: str) -> bool:
    """Does the presented dNSName ``name`` cover ``host``?"""
    h, n = to_alabels(host), to_alabels(name)
    if h is None or n is None or "*" in h:
        return False
    if "*" not in n:
        return h == n
    first, _, rest = n.partition(".")
    if first != "*" or "*" in rest:
        return False  # partial-label wildcard (f*.example.test) or a wildcard past the left-most label
    if rest.count(".") < 1:
        return False  # *.test: a wildcard over a public-suffix-like two-label name never matches
    if _is_ip(h):
        return False
    host_first, _, host_rest = h.partition(".")
    return bool(host_first) and host_rest == rest


def matches(host: str, names: list[str]) -> bool:
    """Does any of the presented dNSNames cover ``host``?"""
    return any(match_one(host, n) for n in names)


def extensions_problem(cert: x509.Certificate) -> str | None:
    """Why the certificate's extensions cannot be read, in words; None when they can.

    RFC 5280 (4.2) allows each extension once. A certificate that repeats one (two subjectAltName
    extensions) is refused by OpenSSL ("invalid certificate") and Go ("duplicate extensions"), so no
    client or controller uses it: that is a verdict on the certificate, not an error of ours.
    """
    try:
        cert.extensions  # noqa: B018 - parsing them is the question
    except x509.DuplicateExtension as exc:
        oid = exc.oid
        label = getattr(oid, "_name", None) or oid.dotted_string
        return (
            f"the certificate repeats the {label} extension ({oid.dotted_string}); RFC 5280 allows each "
            "extension once, and TLS clients and controllers (OpenSSL, Go) refuse such a certificate"
        )
    except ValueError as exc:
        return f"the certificate's extensions cannot be parsed ({exc})"
    return None


def dns_names(cert: x509.Certificate) -> list[str] | None:
    """The certificate's subjectAltName dNSName entries; None when it has no subjectAltName at all, or
    when its extensions cannot be read (``extensions_problem`` says why)."""
    if extensions_problem(cert) is not None:
        return None
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    return list(ext.value.get_values_for_type(x509.DNSName))


def covered_by(host: str, cert: x509.Certificate) -> str | None:
    """The subjectAltName dNSName of ``cert`` that covers ``host``, or None (the CN never counts)."""
    for name in dns_names(cert) or []:
        if match_one(host, name):
            return name
    return None
