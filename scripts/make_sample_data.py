"""Generate a FICTIONAL sample facility table for development, demos and benchmarks.

Every company, site, figure and note made here is invented: company names start with
"Sample", filled bottleneck notes start with "Fictional sample:". Only the geography is real:
sites are placed by rejection sampling inside the real Eurostat NUTS 2021 level-3 polygons
(loaded with :func:`geodata.nuts.load`, which needs NUTS_DATA_DIR or the user cache), with
more sites in the real European biopharma hubs.

The output is deterministic: the same arguments give the same file byte for byte.

Usage, from the repository root::

    python scripts/make_sample_data.py [--companies 300] [--sites 350] [--seed 2021]
                                       [--out data/sample_facilities.csv]

Library use (e.g. benchmarks)::

    from scripts.make_sample_data import generate   # or importlib from the file path
    frame = generate(n_companies=5000, n_sites=100_000, seed=1)

The frame holds the flat-file form: every column is text, missing values are empty strings,
lists are ';'-separated, booleans are yes/no, dates are ISO.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402

from geodata import nuts  # noqa: E402
from geodata.vocab import (  # noqa: E402
    BOTTLENECKS,
    COMPANY_SIZES,
    EU_MEMBER_STATES,
    PLATFORMS,
    STAGES,
)

# fmt: off
COLUMNS = [
    "facility_id", "company", "country", "city", "postcode", "latitude", "longitude", "nuts3",
    "company_size", "cluster", "stages", "platforms", "capacity_doses_per_month",
    "available_capacity_pct", "lead_time_months", "gmp_certified", "staff", "bottlenecks",
    "bottleneck_notes", "public_listing", "contact_consent", "survey_date",
]

# fmt: on

DEFAULT_SEED = 2021
NUTS_VERSION = (2021, 3, "20M")

# ---------------------------------------------------------------------------------------------
# Geography
# ---------------------------------------------------------------------------------------------

# fmt: off
#: Two small Member States left out, so the sample covers exactly 25 (as the 2021 matchmaking did).
EXCLUDED_COUNTRIES = ("CY", "MT")

#: Outermost regions: not sampled, except the forced sites below.
OUTERMOST_PREFIXES = ("FRY", "PT2", "PT3", "ES7")
#: One site each is moved to these regions (when the sample has sites in ES / PT).
FORCED_OUTERMOST = {"ES": ("ES705", "ES709"), "PT": ("PT300",)}

#: Relative weight of each country (rough size of its biopharma sector).
COUNTRY_WEIGHT = {
    "DE": 18, "FR": 12, "IT": 10, "BE": 8, "ES": 8, "NL": 7, "IE": 5, "SE": 5, "PL": 5,
    "DK": 4, "AT": 4, "HU": 3, "CZ": 3, "PT": 2, "FI": 2, "EL": 2, "RO": 2, "LT": 1.5,
    "SI": 1.5, "HR": 1, "SK": 1, "BG": 1, "LU": 0.7, "LV": 0.7, "EE": 0.7,
}

#: Weight of a NUTS 3 region inside its country: the longest matching code prefix wins,
#: regions matching none get DEFAULT_REGION_WEIGHT. Hub NUTS 3 regions ~20-30, hub NUTS 2 regions ~5-10,
#: capital regions ~15-25.
DEFAULT_REGION_WEIGHT = 0.5
REGION_WEIGHT = {
    # Belgium: Walloon Brabant, Brussels, Antwerp, Ghent, Liège, Gosselies (Hainaut)
    "BE310": 30, "BE100": 22, "BE211": 20, "BE234": 12, "BE33": 6, "BE32": 5, "BE24": 5,
    # Germany: Rhine-Main, Munich, Berlin, Marburg, Rhine-Neckar, Tübingen, Hamburg, ...
    "DE71": 8, "DE712": 25, "DEB35": 25, "DEB3": 5, "DE724": 25, "DE72": 4,
    "DE21": 5, "DE212": 25, "DE21H": 15, "DE300": 25, "DE40": 3,
    "DE125": 20, "DE126": 15, "DE128": 12, "DE12": 4, "DE142": 12, "DE11": 4, "DE14": 3,
    "DE600": 10, "DE929": 6, "DE91": 3, "DEA2": 4, "DEA1": 4, "DED2": 4, "DED5": 3,
    # Netherlands: Leiden, Amsterdam, Utrecht, Oss/Eindhoven, Nijmegen
    "NL337": 30, "NL33": 6, "NL329": 15, "NL32": 5, "NL31": 6, "NL41": 5, "NL22": 3,
    "NL226": 8, "NL42": 3,
    # Ireland: Cork, Dublin
    "IE053": 30, "IE061": 30, "IE05": 5, "IE06": 5,
    # Italy: Lombardy/Milan, Lazio/Rome/Latina, Tuscany/Siena, Turin, Naples
    "ITC4": 6, "ITC4C": 25, "ITI4": 6, "ITI43": 25, "ITI44": 12, "ITI1": 5, "ITI19": 25,
    "ITC11": 6, "ITH3": 3, "ITH5": 3, "ITF33": 4,
    # France: Lyon, Paris/Île-de-France, Alsace/Strasbourg, Normandy (Val-de-Reuil), ...
    "FRK2": 5, "FRK26": 30, "FR10": 8, "FR101": 20, "FRF1": 6, "FRF11": 20, "FRD2": 4,
    "FRE1": 3, "FRJ2": 3, "FRI1": 3, "FRG0": 3, "FRB0": 3,
    # Spain: Catalonia/Barcelona, Madrid, Basque Country, Galicia (Porriño)
    "ES51": 5, "ES511": 30, "ES300": 25, "ES21": 5, "ES11": 3, "ES114": 10, "ES52": 3,
    "ES61": 3,
    # Denmark: Copenhagen, Aarhus
    "DK01": 12, "DK011": 30, "DK012": 25, "DK04": 4, "DK02": 3,
    # Sweden: Stockholm, Uppsala, Lund/Malmö, Gothenburg
    "SE110": 30, "SE121": 25, "SE22": 5, "SE224": 15, "SE23": 4, "SE232": 12,
    # Austria: Vienna, Lower Austria (Orth), Tyrol (Kundl/Innsbruck), Graz, Upper Austria
    "AT130": 30, "AT12": 6, "AT33": 4, "AT332": 10, "AT22": 4, "AT31": 4,
    # Poland: Warsaw, Łódź, Kraków, Wrocław, Tricity, Poznań, Lublin
    "PL91": 12, "PL911": 30, "PL71": 5, "PL711": 25, "PL213": 10, "PL514": 8, "PL633": 6,
    "PL415": 6, "PL81": 3,
    # Hungary, Czechia
    "HU110": 30, "HU120": 15, "HU33": 4, "HU32": 4,
    "CZ010": 30, "CZ02": 10, "CZ064": 12,
    # Other capitals and second cities
    "PT170": 25, "PT11A": 15, "PT11": 4, "PT16": 4,
    "FI1B1": 25, "FI1C1": 8,
    "EL30": 15, "EL52": 4,
    "RO32": 25, "RO11": 4,
    "SI041": 20, "SI04": 5,
    "HR050": 25,
    "SK010": 25,
    "BG411": 25, "BG412": 6,
    "LT011": 25, "LT022": 8,
    "LV006": 25,
    "EE001": 25, "EE008": 6,
}

# ---------------------------------------------------------------------------------------------
# Companies
# ---------------------------------------------------------------------------------------------

SIZE_CODES = list(COMPANY_SIZES)
SIZE_P = {"micro": 0.15, "small": 0.35, "medium": 0.30, "large": 0.20}
#: Weight of a company for getting extra sites.
SIZE_EXTRA_SITE_WEIGHT = {"micro": 0.3, "small": 1.0, "medium": 3.0, "large": 7.0}
#: Probability that an extra site of a company lies in another country.
SIZE_ABROAD_P = {"micro": 0.05, "small": 0.10, "medium": 0.20, "large": 0.35}
#: Site headcount: (median, sigma, min, max), within the EU SME band of the size.
SIZE_STAFF = {
    "micro": (4, 0.6, 1, 9),
    "small": (22, 0.5, 10, 49),
    "medium": (110, 0.5, 50, 249),
    "large": (700, 0.8, 250, 6000),
}
#: Median monthly doses of a manufacturing site.
SIZE_CAPACITY_MEDIAN = {"micro": 2e5, "small": 4e5, "medium": 1.5e6, "large": 5e6}

#: Business profiles: each company has one; it drives its sites' stages and its name.
PROFILES = ["manufacturer", "raw_materials", "equipment", "packaging", "testing", "services", "logistics"]
PROFILE_P_BY_SIZE = {
    "micro": [0.02, 0.15, 0.15, 0.05, 0.25, 0.33, 0.05],
    "small": [0.06, 0.20, 0.20, 0.08, 0.18, 0.20, 0.08],
    "medium": [0.20, 0.18, 0.17, 0.10, 0.12, 0.10, 0.13],
    "large": [0.38, 0.15, 0.12, 0.12, 0.05, 0.06, 0.12],
}
#: Stage weights per profile (stages not named get a small weight).
PROFILE_STAGE_WEIGHT = {
    "manufacturer": {
        "raw_materials": 0.3, "consumables_equipment": 0.2, "drug_substance": 3.0,
        "formulation": 2.0, "fill_finish": 3.0, "primary_packaging": 0.3, "qc_testing": 1.5,
        "packaging_labelling": 0.8, "cold_chain_logistics": 0.5, "services": 0.8,
    },
    "raw_materials": {
        "raw_materials": 5.0, "consumables_equipment": 0.6, "drug_substance": 0.3,
        "formulation": 0.1, "primary_packaging": 0.1, "qc_testing": 0.8,
        "cold_chain_logistics": 0.3, "services": 0.6,
    },
    "equipment": {
        "raw_materials": 0.5, "consumables_equipment": 5.0, "qc_testing": 0.3,
        "cold_chain_logistics": 0.4, "services": 1.2,
    },
    "packaging": {
        "raw_materials": 0.2, "consumables_equipment": 0.6, "primary_packaging": 5.0,
        "packaging_labelling": 3.0, "cold_chain_logistics": 0.3, "services": 0.3,
    },
    "testing": {
        "raw_materials": 0.2, "consumables_equipment": 0.2, "drug_substance": 0.1,
        "qc_testing": 5.0, "cold_chain_logistics": 0.1, "services": 2.5,
    },
    "services": {
        "raw_materials": 0.3, "consumables_equipment": 0.6, "drug_substance": 0.3,
        "formulation": 0.3, "fill_finish": 0.2, "qc_testing": 1.5, "cold_chain_logistics": 0.3,
        "services": 5.0,
    },
    "logistics": {
        "consumables_equipment": 0.2, "qc_testing": 0.2, "packaging_labelling": 1.5,
        "cold_chain_logistics": 5.0, "services": 0.8,
    },
}
N_STAGES_P = [0.45, 0.35, 0.20]  # 1, 2 or 3 stages per site

MANUFACTURING_STAGES = ("drug_substance", "formulation", "fill_finish")
#: Sites offering only these stages sometimes give no platform.
NON_PLATFORM_STAGES = (
    "consumables_equipment", "primary_packaging", "packaging_labelling", "cold_chain_logistics",
)
PLATFORM_WEIGHT = {"mrna": 4.0, "protein_subunit": 3.5, "viral_vector": 2.0, "inactivated": 1.2, "other": 0.8}
N_PLATFORMS_P = [0.6, 0.4]  # 1 or 2 platforms

#: Bottleneck weights contributed by each stage a site offers.
STAGE_BOTTLENECK_WEIGHT = {
    "drug_substance": {
        "lipids_mrna_inputs": 3.0, "media_resins": 2.5, "single_use": 3.0, "filters": 2.5,
        "equipment_lead_time": 1.5, "qc_release": 0.8, "tech_transfer_ip": 1.5,
    },
    "formulation": {
        "lipids_mrna_inputs": 3.0, "filters": 1.5, "single_use": 1.0, "tech_transfer_ip": 1.5,
        "equipment_lead_time": 1.0,
    },
    "fill_finish": {
        "vials_stoppers": 3.5, "syringes_needles": 2.0, "filters": 1.5, "single_use": 1.0,
        "fill_finish_slots": 0.3, "regulatory_gmp": 1.0, "equipment_lead_time": 1.5,
    },
    "raw_materials": {
        "export_restrictions": 2.0, "media_resins": 1.0, "lipids_mrna_inputs": 1.0,
        "equipment_lead_time": 1.0, "financing": 1.0,
    },
    "consumables_equipment": {
        "equipment_lead_time": 2.0, "export_restrictions": 1.5, "single_use": 1.0,
        "financing": 0.8,
    },
    "primary_packaging": {"export_restrictions": 1.0, "equipment_lead_time": 1.5, "financing": 1.0},
    "qc_testing": {
        "qc_release": 2.0, "skilled_staff": 2.0, "regulatory_gmp": 1.0, "equipment_lead_time": 0.8,
    },
    "packaging_labelling": {"skilled_staff": 1.0, "financing": 1.0, "cold_chain": 0.3},
    "cold_chain_logistics": {"cold_chain": 3.0, "equipment_lead_time": 1.0, "financing": 0.8},
    "services": {"skilled_staff": 2.0, "tech_transfer_ip": 1.5, "regulatory_gmp": 1.5, "financing": 1.0},
}
#: Everyone may report these.
GENERAL_BOTTLENECK_WEIGHT = {"skilled_staff": 0.8, "regulatory_gmp": 0.5, "financing": 0.8}
#: Extra weight for manufacturing sites working on mRNA.
MRNA_BOTTLENECK_WEIGHT = {"lipids_mrna_inputs": 2.0}
N_BOTTLENECKS_P = [0.2, 0.35, 0.3, 0.15]  # 0, 1, 2 or 3 bottlenecks
NOTE_P = 0.6  # share of sites with bottlenecks that also write a note

NAME_WORDS = [
    "Alder", "Amber", "Aurora", "Azure", "Basalt", "Beacon", "Birch", "Boreal", "Cedar",
    "Cobalt", "Coral", "Crescent", "Delta", "Ember", "Fjord", "Garnet", "Granite", "Harbour",
    "Helix", "Indigo", "Iris", "Juniper", "Kestrel", "Lagoon", "Linden", "Lumen", "Maple",
    "Meridian", "Nimbus", "Nova", "Onyx", "Orchid", "Pebble", "Polaris", "Quartz", "Raven",
    "Saffron", "Sequoia", "Solstice", "Spruce", "Tundra", "Umber", "Vale", "Willow", "Zephyr",
]
PROFILE_NAME_WORDS = {
    "manufacturer": ["Biologics", "Vaccines", "Biomanufacturing", "Pharma", "Bioproduction"],
    "raw_materials": ["Biochem", "Lipids", "Reagents", "Nucleotides", "Media"],
    "equipment": ["Bioprocess", "Bioreactors", "Process Systems", "Filtration", "Cleanroom Systems"],
    "packaging": ["Glassworks", "Packaging", "Vials", "Closures", "Labels"],
    "testing": ["Analytics", "Labs", "Testing", "Bioassays", "QC Services"],
    "services": ["Consulting", "Bioservices", "Regulatory Partners", "Engineering", "CDMO Services"],
    "logistics": ["Cold Chain", "Logistics", "Cryo Storage", "Freight", "Distribution"],
}
GREEK = [
    "Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta", "Theta", "Iota", "Kappa",
    "Lambda", "Mu", "Nu", "Xi", "Omicron", "Pi", "Rho", "Sigma", "Tau", "Upsilon", "Phi",
    "Chi", "Psi", "Omega",
]
#: Legal forms per country: (form of smaller companies, form of larger companies).
LEGAL_FORMS = {
    "AT": ("GmbH", "AG"), "BE": ("SRL", "SA"), "BG": ("EOOD", "AD"), "CZ": ("s.r.o.", "a.s."),
    "DE": ("GmbH", "AG"), "DK": ("ApS", "A/S"), "EE": ("OÜ", "AS"), "EL": ("IKE", "S.A."),
    "ES": ("S.L.", "S.A."), "FI": ("Oy", "Oyj"), "FR": ("SAS", "SA"), "HR": ("d.o.o.", "d.d."),
    "HU": ("Kft.", "Zrt."), "IE": ("Ltd", "DAC"), "IT": ("S.r.l.", "S.p.A."), "LT": ("UAB", "AB"),
    "LU": ("S.à r.l.", "S.A."), "LV": ("SIA", "AS"), "NL": ("B.V.", "N.V."),
    "PL": ("sp. z o.o.", "S.A."), "PT": ("Lda.", "S.A."), "RO": ("S.R.L.", "S.A."),
    "SE": ("AB", "AB"), "SI": ("d.o.o.", "d.d."), "SK": ("s.r.o.", "a.s."),
}
#: Probability of the larger company form, by size.
LARGE_FORM_P = {"micro": 0.0, "small": 0.1, "medium": 0.4, "large": 0.8}

CLUSTER_NAME = "Sample Life Sciences Cluster {country}"
NO_CLUSTER_P = 0.12
PUBLIC_LISTING_P = 0.75
CONTACT_CONSENT_P = 0.80
NUTS3_ONLY_SHARE = 0.05  # sites given by nuts3 code only, no coordinates
SURVEY_START = dt.date(2021, 2, 15)
SURVEY_END = dt.date(2021, 3, 8)

NOTE_TEMPLATES = [
    "Fictional sample: main constraint at this site is {label_lc}.",
    "Fictional sample: problems with {label_lc} since {when}.",
    "Fictional sample: {label_lc} could delay our scale-up by about {months} months.",
    "Fictional sample: {label_lc} will stay a concern for at least {weeks} weeks.",
    "Fictional sample: more output possible within {months} months once the {label_lc} situation improves.",
]
NOTE_WHEN = ["November 2020", "December 2020", "January 2021", "February 2021"]
# fmt: on


def _check_vocabulary() -> None:
    """Fail loudly if a weight table names a code the vocabulary no longer has."""
    assert set(EXCLUDED_COUNTRIES) <= set(EU_MEMBER_STATES)
    included = [c for c in EU_MEMBER_STATES if c not in EXCLUDED_COUNTRIES]
    assert set(COUNTRY_WEIGHT) == set(included) == set(LEGAL_FORMS), "country tables out of date"
    assert set(SIZE_P) == set(COMPANY_SIZES)
    for table in PROFILE_STAGE_WEIGHT.values():
        assert set(table) <= set(STAGES), set(table) - set(STAGES)
    assert set(STAGE_BOTTLENECK_WEIGHT) <= set(STAGES)
    for table in [*STAGE_BOTTLENECK_WEIGHT.values(), GENERAL_BOTTLENECK_WEIGHT, MRNA_BOTTLENECK_WEIGHT]:
        assert set(table) <= set(BOTTLENECKS), set(table) - set(BOTTLENECKS)
    assert set(PLATFORM_WEIGHT) == set(PLATFORMS)
    assert set(MANUFACTURING_STAGES) <= set(STAGES)
    assert set(NON_PLATFORM_STAGES) <= set(STAGES)


_check_vocabulary()

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _gumbel_top_k(rng: np.random.Generator, weights: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Per row, a boolean mask of k[row] distinct columns drawn without replacement ∝ weights."""
    with np.errstate(divide="ignore"):
        keys = np.log(weights) + rng.gumbel(size=weights.shape)
    order = np.argsort(-keys, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(weights.shape[1])[None, :].repeat(len(weights), 0), axis=1)
    return ranks < k[:, None]


def _join_codes(mask: np.ndarray, codes: list[str]) -> np.ndarray:
    """Row-wise ';'-join of the codes whose mask is set (vocabulary order)."""
    out = np.full(len(mask), "", dtype=object)
    # Combinations are few: join once per distinct mask row.
    packed = np.packbits(mask, axis=1, bitorder="little")
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel() if len(mask) else packed
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    joined = np.array(
        [";".join(c for c, m in zip(codes, mask[i], strict=True) if m) for i in first], dtype=object
    )
    out[:] = joined[inverse.ravel()]
    return out


def _weights_matrix(
    rows: list[str], cols: list[str], table: dict[str, dict[str, float]], floor: float
) -> np.ndarray:
    return np.array([[table.get(r, {}).get(c, floor) for c in cols] for r in rows], dtype=float)


def _region_weights(regions: pd.DataFrame) -> np.ndarray:
    prefixes = sorted(REGION_WEIGHT, key=len, reverse=True)
    weights = []
    for code in regions["NUTS_ID"]:
        match = next((p for p in prefixes if code.startswith(p)), None)
        weights.append(REGION_WEIGHT[match] if match else DEFAULT_REGION_WEIGHT)
    return np.array(weights, dtype=float)


def _sample_points(
    rng: np.random.Generator, geoms: np.ndarray, region_of_site: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points inside each site's region polygon, rounded to 5 decimals.

    Rejection sampling in batches per distinct region; rounded points are tested, so the
    written coordinates lie inside the polygon too.
    """
    lon = np.full(len(region_of_site), np.nan)
    lat = np.full(len(region_of_site), np.nan)
    order = np.argsort(region_of_site, kind="stable")
    regions, starts, counts = np.unique(region_of_site[order], return_index=True, return_counts=True)
    for region, start, need in zip(regions, starts, counts, strict=True):
        geom = geoms[region]
        shapely.prepare(geom)
        minx, miny, maxx, maxy = geom.bounds
        fill_ratio = max(geom.area / max((maxx - minx) * (maxy - miny), 1e-12), 1e-3)
        got_x: list[np.ndarray] = []
        got_y: list[np.ndarray] = []
        have = 0
        while have < need:
            batch = int((need - have) / fill_ratio * 1.3) + 16
            x = np.round(rng.uniform(minx, maxx, batch), 5)
            y = np.round(rng.uniform(miny, maxy, batch), 5)
            inside = shapely.contains_xy(geom, x, y)
            got_x.append(x[inside])
            got_y.append(y[inside])
            have += int(inside.sum())
        idx = order[start : start + need]
        lon[idx] = np.concatenate(got_x)[:need]
        lat[idx] = np.concatenate(got_y)[:need]
    return lon, lat


def _name_suffix(duplicate: int) -> str:
    """'' for the first company of a base name, then ' Alpha', ' Beta', ..., ' Alpha 2', ..."""
    if duplicate == 0:
        return ""
    letter = GREEK[(duplicate - 1) % len(GREEK)]
    rnd = (duplicate - 1) // len(GREEK) + 1
    return f" {letter}" + (f" {rnd}" if rnd > 1 else "")


def _fmt_int(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    out = np.full(len(values), "", dtype=object)
    out[present] = [str(int(v)) for v in values[present]]
    return out


def _yes_no(flags: np.ndarray) -> np.ndarray:
    return np.where(flags, "yes", "no").astype(object)


# ---------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------


def generate(n_companies: int = 300, n_sites: int = 350, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """A fictional facility table of ``n_sites`` sites of ``n_companies`` companies.

    Deterministic for given arguments. Columns as :data:`COLUMNS`, all text (flat-file form).
    """
    if n_companies < 1 or n_sites < n_companies:
        raise ValueError("need at least one company and at least as many sites as companies")
    rng = np.random.default_rng(seed)

    regions = nuts.load(*NUTS_VERSION)
    countries = [c for c in EU_MEMBER_STATES if c not in EXCLUDED_COUNTRIES]
    country_p = np.array([COUNTRY_WEIGHT[c] for c in countries], dtype=float)
    country_p /= country_p.sum()

    # --- companies ------------------------------------------------------------------------
    size_idx = rng.choice(len(SIZE_CODES), size=n_companies, p=[SIZE_P[s] for s in SIZE_CODES])
    sizes = np.array(SIZE_CODES, dtype=object)[size_idx]
    # Home countries by quota (largest remainder): one company per country first, so all 25
    # are present, the rest in proportion to the country weights; then shuffled.
    n_base = min(len(countries), n_companies)
    quota = country_p * (n_companies - n_base)
    per_country = np.floor(quota).astype(int)
    remainder = (n_companies - n_base) - per_country.sum()
    per_country[np.argsort(-(quota - per_country), kind="stable")[:remainder]] += 1
    home = np.concatenate([np.arange(n_base), np.repeat(np.arange(len(countries)), per_country)])
    home = rng.permutation(home)
    profile_p = np.array([PROFILE_P_BY_SIZE[s] for s in SIZE_CODES])
    cum = profile_p.cumsum(axis=1)[size_idx]
    profile = (rng.random(n_companies)[:, None] > cum).sum(axis=1).clip(0, len(PROFILES) - 1)

    # Company names: "Sample <Word> <Profile word> [<Greek>] <legal form>", unique.
    word1 = np.array(NAME_WORDS, dtype=object)[rng.integers(len(NAME_WORDS), size=n_companies)]
    word2_pick = rng.integers(5, size=n_companies)
    word2 = np.array(
        [PROFILE_NAME_WORDS[PROFILES[p]][w] for p, w in zip(profile, word2_pick, strict=True)], dtype=object
    )
    base = pd.Series("Sample " + word1 + " " + word2)
    dup = base.groupby(base).cumcount().to_numpy()
    suffix = np.array([_name_suffix(int(d)) for d in dup], dtype=object)
    large_form = rng.random(n_companies) < np.array([LARGE_FORM_P[s] for s in sizes])
    forms = np.array(
        [LEGAL_FORMS[countries[h]][int(f)] for h, f in zip(home, large_form, strict=True)], dtype=object
    )
    names = base.to_numpy(dtype=object) + suffix + " " + forms
    assert len(set(names)) == n_companies

    public = rng.random(n_companies) < PUBLIC_LISTING_P
    consent = rng.random(n_companies) < CONTACT_CONSENT_P
    n_days = (SURVEY_END - SURVEY_START).days + 1
    survey_day = rng.integers(n_days, size=n_companies)
    in_cluster = rng.random(n_companies) >= NO_CLUSTER_P

    # --- sites per company: 1 + extra slots chosen by size weight ---------------------------
    n_extra = n_sites - n_companies
    slots = max(2, int(np.ceil(2 * n_extra / n_companies)))
    slot_w = np.repeat(np.array([SIZE_EXTRA_SITE_WEIGHT[s] for s in sizes]), slots)
    keys = np.log(slot_w) + rng.gumbel(size=slot_w.shape)
    chosen = np.argpartition(-keys, n_extra - 1)[:n_extra] if n_extra else np.array([], dtype=int)
    per_company = 1 + np.bincount(chosen // slots, minlength=n_companies)

    company_order = rng.permutation(n_companies)
    comp = np.repeat(company_order, per_company[company_order])  # site -> company
    first = np.r_[True, comp[1:] != comp[:-1]]

    # --- site country and region --------------------------------------------------------------
    site_country = home[comp].copy()
    abroad = ~first & (rng.random(n_sites) < np.array([SIZE_ABROAD_P[s] for s in sizes[comp]]))
    site_country[abroad] = rng.choice(len(countries), size=int(abroad.sum()), p=country_p)

    codes = regions["NUTS_ID"].to_numpy()
    sampleable = ~regions["NUTS_ID"].str.startswith(OUTERMOST_PREFIXES).to_numpy()
    rweights = _region_weights(regions)
    cntr = regions["CNTR_CODE"].to_numpy()
    site_region = np.empty(n_sites, dtype=int)
    for ci, country in enumerate(countries):
        sites_here = np.flatnonzero(site_country == ci)
        if not len(sites_here):
            continue
        cand = np.flatnonzero((cntr == country) & sampleable)
        w = rweights[cand] / rweights[cand].sum()
        site_region[sites_here] = rng.choice(cand, size=len(sites_here), p=w)
    # A site or two in the outermost regions, so that code path is exercised.
    code_pos = {c: i for i, c in enumerate(codes)}
    for country, targets in FORCED_OUTERMOST.items():
        sites_here = np.flatnonzero(site_country == countries.index(country))
        if n_sites >= 100 and len(sites_here) >= 2:
            target = targets[rng.integers(len(targets))]
            site_region[sites_here[rng.integers(len(sites_here))]] = code_pos[target]

    # nuts3-only sites (no coordinates); the rest get a point inside their region.
    nuts_only = np.zeros(n_sites, dtype=bool)
    nuts_only[rng.permutation(n_sites)[: round(NUTS3_ONLY_SHARE * n_sites)]] = True
    has_xy = ~nuts_only
    lon = np.full(n_sites, np.nan)
    lat = np.full(n_sites, np.nan)
    geoms = regions.geometry.to_numpy()
    lon[has_xy], lat[has_xy] = _sample_points(rng, geoms, site_region[has_xy])

    # --- stages -------------------------------------------------------------------------------
    stage_codes = list(STAGES)
    stage_w = _weights_matrix(PROFILES, stage_codes, PROFILE_STAGE_WEIGHT, 0.02)[profile[comp]]
    k_stages = rng.choice([1, 2, 3], size=n_sites, p=N_STAGES_P)
    stage_mask = _gumbel_top_k(rng, stage_w, k_stages)
    mfg_cols = [stage_codes.index(s) for s in MANUFACTURING_STAGES]
    is_mfg = np.asarray(stage_mask[:, mfg_cols].any(axis=1), dtype=bool)
    non_platform_cols = [stage_codes.index(s) for s in NON_PLATFORM_STAGES]
    platform_cols = [i for i in range(len(stage_codes)) if i not in non_platform_cols]
    platform_free_only = ~stage_mask[:, platform_cols].any(axis=1)

    # --- platforms ----------------------------------------------------------------------------
    platform_codes = list(PLATFORMS)
    k_plat = rng.choice([1, 2], size=n_sites, p=N_PLATFORMS_P)
    k_plat[platform_free_only & (rng.random(n_sites) < 0.6)] = 0
    plat_w = np.tile([PLATFORM_WEIGHT[p] for p in platform_codes], (n_sites, 1))
    plat_mask = _gumbel_top_k(rng, plat_w, k_plat)

    # --- capacity (manufacturing sites only) -------------------------------------------------
    site_sizes = sizes[comp]
    median = np.array([SIZE_CAPACITY_MEDIAN[s] for s in site_sizes])
    capacity = np.round(np.clip(median * rng.lognormal(0.0, 0.9, n_sites), 1e5, 5e7), -3)
    avail = np.round(rng.beta(2.0, 3.0, n_sites) * 20) * 5
    lead = np.clip(np.round(rng.gamma(2.0, 2.5, n_sites)) + 1, 1, 18)

    # --- GMP, staff -----------------------------------------------------------------------------
    qc_cols = [stage_codes.index(s) for s in ("qc_testing", "primary_packaging", "raw_materials")]
    qc_like = stage_mask[:, qc_cols].any(axis=1)
    gmp_p = np.where(is_mfg, np.where(site_sizes == "large", 0.95, 0.8), np.where(qc_like, 0.45, 0.2))
    gmp = rng.random(n_sites) < gmp_p
    staff_par = np.array([SIZE_STAFF[s] for s in site_sizes])
    staff = np.round(staff_par[:, 0] * rng.lognormal(0.0, 1.0, n_sites) ** staff_par[:, 1])
    staff = np.clip(staff, staff_par[:, 2], staff_par[:, 3])

    # --- bottlenecks --------------------------------------------------------------------------
    b_codes = list(BOTTLENECKS)
    per_stage = _weights_matrix(stage_codes, b_codes, STAGE_BOTTLENECK_WEIGHT, 0.0)
    general = np.array([GENERAL_BOTTLENECK_WEIGHT.get(b, 0.0) for b in b_codes])
    mrna_extra = np.array([MRNA_BOTTLENECK_WEIGHT.get(b, 0.0) for b in b_codes])
    b_w = stage_mask.astype(float) @ per_stage + general
    b_w += np.outer(is_mfg & plat_mask[:, platform_codes.index("mrna")], mrna_extra)
    k_b = rng.choice(len(N_BOTTLENECKS_P), size=n_sites, p=N_BOTTLENECKS_P)
    k_b = np.minimum(k_b, (b_w > 0).sum(axis=1))
    b_mask = _gumbel_top_k(rng, b_w, k_b)

    # Notes: about the site's most weighted reported bottleneck.
    with_note = (k_b > 0) & (rng.random(n_sites) < NOTE_P)
    top_b = np.argmax(np.where(b_mask, b_w, -1.0), axis=1)
    template = rng.integers(len(NOTE_TEMPLATES), size=n_sites)
    note_when = rng.integers(len(NOTE_WHEN), size=n_sites)
    note_months = rng.integers(2, 10, size=n_sites)
    note_weeks = rng.integers(6, 40, size=n_sites)
    labels = [BOTTLENECKS[b] for b in b_codes]
    notes = np.full(n_sites, "", dtype=object)
    for i in np.flatnonzero(with_note):
        lab = labels[top_b[i]]
        notes[i] = NOTE_TEMPLATES[template[i]].format(
            label=lab,
            label_lc=lab[0].lower() + lab[1:],
            when=NOTE_WHEN[note_when[i]],
            months=note_months[i],
            weeks=note_weeks[i],
        )

    # --- assemble -----------------------------------------------------------------------------
    width = max(4, len(str(n_sites)))
    country_codes = np.array(countries, dtype=object)[site_country]
    names_latn = regions["NAME_LATN"].to_numpy(dtype=object)
    clusters = np.array([CLUSTER_NAME.format(country=EU_MEMBER_STATES[c]) for c in countries], dtype=object)
    cluster = clusters[site_country]
    dates = np.array([(SURVEY_START + dt.timedelta(days=d)).isoformat() for d in range(n_days)], dtype=object)
    frame = pd.DataFrame(
        {
            "facility_id": [f"S{i:0{width}d}" for i in range(1, n_sites + 1)],
            "company": names[comp],
            "country": country_codes,
            "city": names_latn[site_region],
            "postcode": "",
            "latitude": np.where(has_xy, np.char.mod("%.5f", np.nan_to_num(lat)), "").astype(object),
            "longitude": np.where(has_xy, np.char.mod("%.5f", np.nan_to_num(lon)), "").astype(object),
            "nuts3": np.where(nuts_only, codes[site_region], "").astype(object),
            "company_size": site_sizes,
            "cluster": np.where(in_cluster[comp], cluster, "").astype(object),
            "stages": _join_codes(stage_mask, stage_codes),
            "platforms": _join_codes(plat_mask, platform_codes),
            "capacity_doses_per_month": _fmt_int(capacity, is_mfg),
            "available_capacity_pct": _fmt_int(avail, is_mfg),
            "lead_time_months": _fmt_int(lead, is_mfg),
            "gmp_certified": _yes_no(gmp),
            "staff": _fmt_int(staff, np.ones(n_sites, dtype=bool)),
            "bottlenecks": _join_codes(b_mask, b_codes),
            "bottleneck_notes": notes,
            "public_listing": _yes_no(public[comp]),
            "contact_consent": _yes_no(consent[comp]),
            "survey_date": dates[survey_day[comp]],
        },
        columns=COLUMNS,
    )
    return frame


# ---------------------------------------------------------------------------------------------
# Check and CLI
# ---------------------------------------------------------------------------------------------


def check(path: Path) -> dict[str, object]:
    """Read a written file back and verify it against the real NUTS polygons; return figures."""
    import geopandas as gpd

    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(df.columns) == COLUMNS, "column order"
    assert df["facility_id"].is_unique, "facility ids"
    regions = nuts.load(*NUTS_VERSION)
    by_code = regions.set_index("NUTS_ID")
    has_xy = df["latitude"] != ""
    assert ((df["nuts3"] == "") == has_xy).all(), "exactly one of coordinates / nuts3"
    pts = df[has_xy]
    points = gpd.GeoDataFrame(
        pts[["facility_id", "country", "city"]],
        geometry=gpd.points_from_xy(pts["longitude"].astype(float), pts["latitude"].astype(float)),
        crs=regions.crs,
    )
    joined = gpd.sjoin(points, regions[["NUTS_ID", "CNTR_CODE", "NAME_LATN", "geometry"]], predicate="within")
    assert joined.index.is_unique, "every point in exactly one NUTS 3 polygon"
    assert len(joined) == len(points), "every point in a NUTS 3 polygon"
    assert (joined["CNTR_CODE"] == joined["country"]).all(), "country = region's CNTR_CODE"
    assert (joined["NAME_LATN"] == joined["city"]).all(), "city = region name"
    only = df[~has_xy]
    assert only["nuts3"].isin(by_code.index).all()
    assert (by_code.loc[only["nuts3"], "CNTR_CODE"].to_numpy() == only["country"].to_numpy()).all()
    notes = df["bottleneck_notes"]
    assert (notes.eq("") | notes.str.startswith("Fictional sample:")).all()
    assert df["company"].str.startswith("Sample ").all()
    for field, vocab in (("stages", STAGES), ("platforms", PLATFORMS), ("bottlenecks", BOTTLENECKS)):
        codes = {c for cell in df[field] for c in cell.split(";") if c}
        assert codes <= set(vocab), (field, codes - set(vocab))
    outermost = joined["NUTS_ID"][joined["NUTS_ID"].str.startswith(OUTERMOST_PREFIXES)]
    return {
        "sites": len(df),
        "companies": df["company"].nunique(),
        "multi_site_companies": int((df["company"].value_counts() > 1).sum()),
        "multi_country_companies": int((df.groupby("company")["country"].nunique() > 1).sum()),
        "countries": df["country"].nunique(),
        "sites_per_country": df["country"].value_counts().to_dict(),
        "with_coordinates": int(has_xy.sum()),
        "nuts3_only": int((~has_xy).sum()),
        "outermost_sites": outermost.tolist(),
        "manufacturing_sites": int((df["capacity_doses_per_month"] != "").sum()),
        "company_size": df.drop_duplicates("company")["company_size"].value_counts().to_dict(),
        "public_listing_yes": round(float((df["public_listing"] == "yes").mean()), 3),
        "contact_consent_yes": round(float((df["contact_consent"] == "yes").mean()), 3),
        "top_nuts3": joined["NUTS_ID"].value_counts().head(10).to_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=300)
    parser.add_argument("--sites", type=int, default=350)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=Path("data/sample_facilities.csv"))
    parser.add_argument("--no-check", action="store_true", help="skip reading the file back")
    args = parser.parse_args(argv)
    try:
        start = time.perf_counter()
        frame = generate(args.companies, args.sites, args.seed)
        took = time.perf_counter() - start
    except nuts.NutsDataError as exc:
        print(exc, file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False, encoding="utf-8", lineterminator="\n")
    print(f"wrote {args.out}: {len(frame)} sites, {frame['company'].nunique()} companies ({took:.2f} s)")
    if not args.no_check:
        for key, value in check(args.out).items():
            print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
