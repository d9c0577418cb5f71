"""Credentials recognisable by how they start, with no key name next to them.

The list follows what the common secret scanners (detect-secrets, gitleaks) treat as
high-confidence shapes: each begins with a fixed prefix its issuer chose so that leaks can be
found, which is what lets the scanner look for the prefix first and match only there.

Every pattern is written for lower-cased text and starts with its prefix; a repetition either
runs over one character class (and is then consumed by the match) or has a small upper bound,
so a failed attempt costs at most the run it looked at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
"""The characters of a token: a shape that starts inside a run of them is not a token start."""


@dataclass(frozen=True)
class Shape:
    """One credential shape: its issuer, the prefixes it starts with, the pattern matched at
    a prefix, and the part replaced (a webhook keeps its host, a key block is replaced whole)."""

    name: str
    prefixes: tuple[str, ...]
    pattern: re.Pattern[str]
    group: int = 0
    token_start: bool = True
    """Only where a token starts (not preceded by a letter, digit, ``_`` or ``-``)."""


SHAPES: tuple[Shape, ...] = (
    Shape(
        "AWS access key id",
        ("akia", "asia", "abia", "acca"),
        re.compile(r"(?:akia|asia|abia|acca)[0-9a-z]{16}(?![0-9a-z])"),
    ),
    Shape("Google API key", ("aiza",), re.compile(r"aiza[0-9a-z_-]{30,}")),
    Shape("Google OAuth access token", ("ya29.",), re.compile(r"ya29\.[0-9a-z_-]{20,}")),
    Shape(
        "GitHub token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        re.compile(r"gh[pousr]_[0-9a-z]{30,}"),
    ),
    Shape("GitHub fine-grained token", ("github_pat_",), re.compile(r"github_pat_[0-9a-z_]{20,}")),
    Shape("GitLab token", ("glpat-",), re.compile(r"glpat-[0-9a-z_-]{20,}")),
    Shape("Slack token", ("xox",), re.compile(r"xox[abposre]-[0-9a-z-]{10,}")),
    Shape("Slack app token", ("xapp-",), re.compile(r"xapp-[0-9a-z-]{10,}")),
    Shape(
        "Slack webhook",
        ("hooks.slack.com/",),
        re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/([0-9a-z/_+-]+)"),
        group=1,
        token_start=False,
    ),
    Shape(
        "Discord webhook",
        ("discord",),
        re.compile(r"discord(?:app)?\.com/api/webhooks/([0-9a-z/_-]+)"),
        group=1,
        token_start=False,
    ),
    Shape("Stripe secret key", ("sk_", "rk_"), re.compile(r"[sr]k_(?:live|test)_[0-9a-z]{10,}")),
    Shape("OpenAI or Anthropic key", ("sk-",), re.compile(r"sk-[0-9a-z_-]{20,}")),
    Shape("SendGrid key", ("sg.",), re.compile(r"sg\.[0-9a-z_-]{16,}\.[0-9a-z_-]{16,}")),
    Shape("npm token", ("npm_",), re.compile(r"npm_[0-9a-z]{36}(?![0-9a-z])")),
    Shape("PyPI token", ("pypi-",), re.compile(r"pypi-[0-9a-z_-]{50,}")),
    Shape("Hugging Face token", ("hf_",), re.compile(r"hf_[0-9a-z]{30,}")),
    Shape("Square token", ("sq0",), re.compile(r"sq0(?:atp|csp)-[0-9a-z_-]{20,}")),
    Shape("Shopify token", ("shp",), re.compile(r"shp(?:at|ca|pa|ss)_[0-9a-f]{32}")),
    Shape(
        "DigitalOcean token",
        ("dop_v1_", "doo_v1_", "dor_v1_"),
        re.compile(r"do[opr]_v1_[0-9a-f]{64}"),
    ),
    # header.payload.signature, each base64url; the header and payload are JSON objects,
    # so both start with "eyJ" ('{"').
    Shape(
        "JSON Web Token",
        ("eyj",),
        re.compile(r"eyj[0-9a-z_-]{8,}\.eyj[0-9a-z_-]{8,}\.?[0-9a-z_-]*"),
    ),
)
