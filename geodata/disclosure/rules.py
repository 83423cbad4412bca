"""Who may see what: roles, the parameters of the disclosure rules, and the reasons shown on screen.

Parameters come from configuration (environment variables) with defaults that follow common
statistical disclosure control practice; the screen says *why* a value is withheld, never the
parameters, so that nobody can read a contributor's share off a threshold.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

ROLES: tuple[str, ...] = ("official", "cluster", "public")
#: Roles that see every figure; all others go through the rules.
FULL_ACCESS = frozenset({"official"})

COUNT_METRICS: tuple[str, ...] = ("facilities", "companies", "bottleneck_reports")
MAGNITUDES: tuple[str, ...] = ("capacity", "available_capacity")
#: The metric whose suppression pattern each metric follows (specialisation is a ratio of site counts).
PATTERN_OF: dict[str, str] = {
    "facilities": "facilities",
    "companies": "facilities",
    "bottleneck_reports": "facilities",
    "specialisation": "facilities",
    "capacity": "capacity",
    "available_capacity": "available_capacity",
}

FEW = "few"
DOMINANT = "dominant"
SECONDARY = "secondary"
DERIVED = "derived"
REASONS: dict[str, str] = {
    FEW: "confidential: too few companies",
    DOMINANT: "confidential: one or two companies would dominate this figure",
    SECONDARY: "confidential: withheld so that another confidential figure cannot be worked out",
    DERIVED: "confidential: computed from a confidential figure",
}


class ConfigurationError(ValueError):
    """A disclosure parameter in the environment is out of range."""


def is_restricted(role: str) -> bool:
    """Whether ``role`` sees figures through the disclosure rules (every role but 'official')."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    return role not in FULL_ACCESS


@dataclass(frozen=True)
class Rules:
    """Parameters of the disclosure rules.

    - ``min_companies``: a region's figures are withheld when fewer companies contribute;
    - ``p_percent``: p% rule; a magnitude is withheld when the second-largest contributor could
      estimate the largest one to within p % (total - x1 - x2 < p/100 x1);
    - ``protection_percent``: an attacker's interval for any withheld value must be at least
      this share of the value wide on each side (and at least one unit: a site, a dose);
    - ``noise_percent``: published magnitudes carry a deterministic noise of at most this share
      of the largest company's contribution (cell-key method), so that differencing two filter
      settings cannot isolate one company;
    - ``count_noise``: published counts carry a deterministic noise of at most this many units;
    - ``key``: secret that seeds the cell keys (the same key gives the same answers everywhere).
    """

    min_companies: int = 3
    p_percent: float = 10.0
    protection_percent: float = 10.0
    noise_percent: float = 25.0
    count_noise: int = 1
    key: str = "vaccine-capacity-atlas"
    #: off only to measure what secondary suppression buys (bench/ and the audit's --baseline)
    secondary: bool = True

    def __post_init__(self) -> None:
        if not 2 <= self.min_companies <= 50:
            raise ConfigurationError(f"min_companies must be 2..50; got {self.min_companies}")
        for name in ("p_percent", "protection_percent"):
            if not 0 < getattr(self, name) <= 100:
                raise ConfigurationError(f"{name} must be in (0, 100]; got {getattr(self, name)}")
        if not 0 <= self.noise_percent <= 100:
            raise ConfigurationError(f"noise_percent must be in [0, 100]; got {self.noise_percent}")
        if not 0 <= self.count_noise <= 10:
            raise ConfigurationError(f"count_noise must be 0..10; got {self.count_noise}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Rules:
        """Rules from ATLAS_MIN_COMPANIES, ATLAS_P_PERCENT, ATLAS_PROTECTION_PERCENT,
        ATLAS_NOISE_PERCENT, ATLAS_COUNT_NOISE and ATLAS_DISCLOSURE_KEY (else ATLAS_SECRET_KEY)."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for field, name, kind in (
            ("min_companies", "ATLAS_MIN_COMPANIES", int),
            ("p_percent", "ATLAS_P_PERCENT", float),
            ("protection_percent", "ATLAS_PROTECTION_PERCENT", float),
            ("noise_percent", "ATLAS_NOISE_PERCENT", float),
            ("count_noise", "ATLAS_COUNT_NOISE", int),
        ):
            text = env.get(name, "").strip()
            if text:
                try:
                    values[field] = kind(text)
                except ValueError:
                    raise ConfigurationError(f"{name} must be a number; got {text[:40]!r}") from None
        key = env.get("ATLAS_DISCLOSURE_KEY") or env.get("ATLAS_SECRET_KEY")
        if key:
            values["key"] = key
        return cls(**values)  # type: ignore[arg-type]
