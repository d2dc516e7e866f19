"""Counting htpasswd lines without keeping them: user:hash with a hash format nginx/Traefik accept."""

from __future__ import annotations

import re

_HASH = re.compile(r"^(\$2[aby]\$\d\d\$.{53}|\$apr1\$.+\$.+|\{SHA\}.{27,28}|\$[56]\$.+\$.+|[./0-9A-Za-z]{13})$")


def count_lines(text: str) -> tuple[int, int]:
    """(valid lines, invalid lines) of an htpasswd file; blank lines and comments are neither."""
    valid = invalid = 0
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if sep and user and _HASH.match(hashed):
            valid += 1
        else:
            invalid += 1
    return valid, invalid
