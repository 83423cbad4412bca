"""Disclosure control: the one module that decides what each role may see (see engine.py)."""

from geodata.disclosure.cells import TOTAL, Cells, record_keys
from geodata.disclosure.engine import (
    Core,
    Release,
    core,
    group_of,
    reason_text,
    release,
    site_fields,
    visible_sites,
    withheld_column,
)
from geodata.disclosure.rules import REASONS, ROLES, Rules, is_restricted

__all__ = [
    "REASONS",
    "ROLES",
    "TOTAL",
    "Cells",
    "Core",
    "Release",
    "Rules",
    "core",
    "group_of",
    "is_restricted",
    "reason_text",
    "record_keys",
    "release",
    "site_fields",
    "visible_sites",
    "withheld_column",
]
