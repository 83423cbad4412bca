"""The product's vocabulary, defined once: stages, platforms, bottlenecks, metrics, sizes.

Codes are what files, URLs, callbacks and exports use; labels are what screens show.
Source: shared DATA_MODEL.md. Everything else in the project imports from here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

STAGES: dict[str, str] = {
    "raw_materials": "Raw materials & ingredients",
    "consumables_equipment": "Equipment & single-use consumables",
    "drug_substance": "Drug substance manufacturing",
    "formulation": "Formulation",
    "fill_finish": "Fill & finish",
    "primary_packaging": "Primary packaging components",
    "qc_testing": "Quality control & batch release",
    "packaging_labelling": "Secondary packaging & labelling",
    "cold_chain_logistics": "Storage, cold chain & distribution",
    "services": "Technical & regulatory services",
}

PLATFORMS: dict[str, str] = {
    "mrna": "mRNA",
    "viral_vector": "Viral vector",
    "protein_subunit": "Protein subunit",
    "inactivated": "Inactivated / whole virus",
    "other": "Other",
}

BOTTLENECKS: dict[str, str] = {
    "lipids_mrna_inputs": "Lipids & mRNA raw materials",
    "media_resins": "Cell-culture media, buffers, chromatography resins",
    "single_use": "Single-use bioreactor bags, assemblies, tubing",
    "filters": "Sterile filters",
    "equipment_lead_time": "Equipment lead times",
    "vials_stoppers": "Glass vials & rubber stoppers",
    "syringes_needles": "Syringes & needles",
    "fill_finish_slots": "Fill & finish capacity / slots",
    "qc_release": "Testing & batch-release capacity",
    "cold_chain": "Cold chain, ultra-low-temperature storage, dry ice",
    "skilled_staff": "Qualified staff",
    "regulatory_gmp": "Regulatory approval & GMP certification",
    "tech_transfer_ip": "Technology transfer & intellectual property",
    "financing": "Financing & investment for scale-up",
    "export_restrictions": "Export restrictions on inputs from third countries",
}

#: Which stage can relieve a bottleneck (None: a policy matter, no stage relieves it).
BOTTLENECK_RELIEF: dict[str, str | None] = {
    "lipids_mrna_inputs": "raw_materials",
    "media_resins": "raw_materials",
    "single_use": "consumables_equipment",
    "filters": "consumables_equipment",
    "equipment_lead_time": "consumables_equipment",
    "vials_stoppers": "primary_packaging",
    "syringes_needles": "primary_packaging",
    "fill_finish_slots": "fill_finish",
    "qc_release": "qc_testing",
    "cold_chain": "cold_chain_logistics",
    "skilled_staff": "services",
    "regulatory_gmp": "services",
    "tech_transfer_ip": "services",
    "financing": None,
    "export_restrictions": None,
}

COMPANY_SIZES: dict[str, str] = {
    "micro": "Micro (< 10 staff)",
    "small": "Small (< 50 staff)",
    "medium": "Medium (< 250 staff)",
    "large": "Large (250+ staff)",
}

#: Region metrics: code -> (label, unit shown after values).
METRICS: dict[str, tuple[str, str]] = {
    "facilities": ("Sites", "sites"),
    "companies": ("Companies", "companies"),
    "capacity": ("Capacity", "doses/month"),
    "available_capacity": ("Available capacity", "doses/month"),
    "bottleneck_reports": ("Bottleneck reports", "sites reporting"),
    "specialisation": ("Specialisation (location quotient)", "LQ, 1 = average"),
}

#: Metrics that carry commercially sensitive capacity figures (dominance rule applies).
CAPACITY_METRICS: frozenset[str] = frozenset({"capacity", "available_capacity"})

NUTS_YEARS: tuple[int, ...] = (2021, 2024)
NUTS_LEVELS: tuple[int, ...] = (0, 1, 2, 3)
NUTS_SCALES: tuple[str, ...] = ("20M", "60M")

#: ISO 3166 codes that Eurostat writes differently.
ISO_TO_EUROSTAT: dict[str, str] = {"GR": "EL", "GB": "UK"}

#: The 27 EU Member States (Eurostat codes) and their names.
EU_MEMBER_STATES: dict[str, str] = {
    "AT": "Austria",
    "BE": "Belgium",
    "BG": "Bulgaria",
    "CY": "Cyprus",
    "CZ": "Czechia",
    "DE": "Germany",
    "DK": "Denmark",
    "EE": "Estonia",
    "EL": "Greece",
    "ES": "Spain",
    "FI": "Finland",
    "FR": "France",
    "HR": "Croatia",
    "HU": "Hungary",
    "IE": "Ireland",
    "IT": "Italy",
    "LT": "Lithuania",
    "LU": "Luxembourg",
    "LV": "Latvia",
    "MT": "Malta",
    "NL": "Netherlands",
    "PL": "Poland",
    "PT": "Portugal",
    "RO": "Romania",
    "SE": "Sweden",
    "SI": "Slovenia",
    "SK": "Slovakia",
}

# Extra spellings seen in questionnaire exports, beyond code and label.
_EXTRA_ALIASES: dict[str, dict[str, str]] = {
    "stages": {
        "raw materials": "raw_materials",
        "ingredients": "raw_materials",
        "equipment": "consumables_equipment",
        "single use consumables": "consumables_equipment",
        "consumables": "consumables_equipment",
        "drug substance": "drug_substance",
        "api": "drug_substance",
        "fill finish": "fill_finish",
        "fill and finish": "fill_finish",
        "fill & finish": "fill_finish",
        "filling": "fill_finish",
        "primary packaging": "primary_packaging",
        "vials": "primary_packaging",
        "qc": "qc_testing",
        "testing": "qc_testing",
        "quality control": "qc_testing",
        "secondary packaging": "packaging_labelling",
        "packaging and labelling": "packaging_labelling",
        "labelling": "packaging_labelling",
        "cold chain": "cold_chain_logistics",
        "logistics": "cold_chain_logistics",
        "distribution": "cold_chain_logistics",
        "services": "services",
        "cdmo": "services",
    },
    "platforms": {
        "messenger rna": "mrna",
        "viral vector": "viral_vector",
        "vector": "viral_vector",
        "protein": "protein_subunit",
        "subunit": "protein_subunit",
        "inactivated": "inactivated",
        "whole virus": "inactivated",
    },
    "bottlenecks": {
        "lipids": "lipids_mrna_inputs",
        "mrna inputs": "lipids_mrna_inputs",
        "media": "media_resins",
        "resins": "media_resins",
        "bioreactor bags": "single_use",
        "single use": "single_use",
        "sterile filters": "filters",
        "equipment": "equipment_lead_time",
        "vials": "vials_stoppers",
        "stoppers": "vials_stoppers",
        "syringes": "syringes_needles",
        "needles": "syringes_needles",
        "fill finish": "fill_finish_slots",
        "fill and finish": "fill_finish_slots",
        "testing": "qc_release",
        "batch release": "qc_release",
        "cold chain": "cold_chain",
        "staff": "skilled_staff",
        "skilled staff": "skilled_staff",
        "gmp": "regulatory_gmp",
        "gmp approval": "regulatory_gmp",
        "regulatory": "regulatory_gmp",
        "tech transfer": "tech_transfer_ip",
        "ip": "tech_transfer_ip",
        "financing": "financing",
        "funding": "financing",
        "export restrictions": "export_restrictions",
    },
    "company_size": {"sme": "small", "big": "large"},
}

VOCABULARIES: dict[str, Mapping[str, str]] = {
    "stages": STAGES,
    "platforms": PLATFORMS,
    "bottlenecks": BOTTLENECKS,
    "company_size": COMPANY_SIZES,
}


def normalise_label(text: str) -> str:
    """Fold a label for matching: lower case, no accents, '&'/'and'/'-'/'_' alike, single spaces."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    folded = folded.lower().replace("&", " and ")
    folded = re.sub(r"[^a-z0-9]+", " ", folded)
    return " ".join(folded.split())


def _alias_table(field: str) -> dict[str, str]:
    codes = VOCABULARIES[field]
    table: dict[str, str] = {}
    for code, label in codes.items():
        table[normalise_label(code)] = code
        table[normalise_label(label)] = code
    for alias, code in _EXTRA_ALIASES.get(field, {}).items():
        table[normalise_label(alias)] = code
    return table


_ALIASES: dict[str, dict[str, str]] = {field: _alias_table(field) for field in VOCABULARIES}


def to_code(field: str, text: str) -> str | None:
    """Map a code or label of ``field`` (stages, platforms, bottlenecks, company_size) to its code.

    Matching is case-insensitive and tolerant of '&'/'and', hyphens and underscores.
    Returns None when the text matches nothing.
    """
    if field not in _ALIASES:
        raise ValueError(f"unknown vocabulary {field!r}; expected one of {sorted(_ALIASES)}")
    return _ALIASES[field].get(normalise_label(text))


def label(field: str, code: str) -> str:
    """The screen label of a code (the code itself if unknown)."""
    if field == "metrics":
        return METRICS[code][0] if code in METRICS else code
    return VOCABULARIES[field].get(code, code)
