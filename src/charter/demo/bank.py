"""Synthetic, seeded bank data for the demo's data-lake chapter: customers with PII and a
sensitive attribute, their card transactions, and one file that breaks quality rules.

Everything is generated with the standard library's `random` under a fixed seed, so the
same files come out on every run; nothing is downloaded. The SSNs start with 9, an area
number that is never issued, so no value can be a real person's.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 4711
CUSTOMERS = 1_000
TRANSACTIONS = 20_000
REGIONS = ("EU", "US", "APAC")
REGION_WEIGHTS = (0.45, 0.35, 0.20)
SEGMENTS = ("retail", "premium", "private", "small-business")
SEGMENT_WEIGHTS = (0.6, 0.25, 0.05, 0.10)
GENDERS = ("female", "male", "diverse")
GENDER_WEIGHTS = (0.49, 0.49, 0.02)
MERCHANT_CATEGORIES = ("grocery", "restaurants", "travel", "fuel", "electronics",
                       "healthcare", "utilities", "entertainment", "clothing", "online")
FIRST_NAMES = ("Anna", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines",
               "Jonas", "Keiko", "Liam", "Maria", "Noah", "Olga", "Priya", "Quentin", "Rosa",
               "Sven", "Tara", "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe")
LAST_NAMES = ("Andersen", "Becker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Huang",
              "Ito", "Jansen", "Kowalski", "Lopez", "Müller", "Nakamura", "Okafor", "Patel",
              "Quinn", "Rossi", "Schmidt", "Tanaka", "Uddin", "Valdez", "Wagner", "Young")
CUSTOMER_FIELDS = ("customer_id", "name", "email", "ssn", "birth_year", "region", "gender",
                   "segment")
TRANSACTION_FIELDS = ("txn_id", "customer_id", "amount", "ts", "merchant_category", "region")
START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class BankFiles:
    customers: Path
    transactions: Path
    bad_customers: Path


def customer_id(n: int) -> str:
    return f"C{n:06d}"


def generate(rng: random.Random, customers: int = CUSTOMERS,
             transactions: int = TRANSACTIONS) -> tuple[list[dict], list[dict]]:
    """Customers and transactions as lists of CSV rows (dicts of strings and numbers)."""
    people = []
    for n in range(1, customers + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        people.append({
            "customer_id": customer_id(n),
            "name": f"{first} {last}",
            "email": f"{first}.{last}{n}@example.com".lower().replace("ü", "ue"),
            "ssn": f"9{rng.randint(0, 99):02d}-{rng.randint(1, 99):02d}-"
                   f"{rng.randint(1, 9999):04d}",
            "birth_year": rng.randint(1940, 2005),
            "region": rng.choices(REGIONS, REGION_WEIGHTS)[0],
            "gender": rng.choices(GENDERS, GENDER_WEIGHTS)[0],
            "segment": rng.choices(SEGMENTS, SEGMENT_WEIGHTS)[0],
        })
    payments = []
    for n in range(1, transactions + 1):
        who = rng.choice(people)
        when = START + timedelta(seconds=rng.randint(0, 365 * 24 * 3600 - 1))
        scale = 400.0 if who["segment"] in ("private", "small-business") else 60.0
        payments.append({
            "txn_id": f"T{n:07d}",
            "customer_id": who["customer_id"],
            "amount": round(min(rng.lognormvariate(0, 1) * scale, 999_999.0), 2),
            "ts": when.strftime("%Y-%m-%dT%H:%M:%S"),
            "merchant_category": rng.choice(MERCHANT_CATEGORIES),
            "region": who["region"],
        })
    return people, payments


def bad_customers(rng: random.Random, customers: int = CUSTOMERS) -> list[dict]:
    """New customers, a few of them breaking the customers table's quality rules."""
    rows = []
    for n in range(customers + 1, customers + 6):
        rows.append({"customer_id": customer_id(n), "name": "New Customer",
                     "email": f"new.customer{n}@example.com",
                     "ssn": f"9{rng.randint(0, 99):02d}-{rng.randint(1, 99):02d}-"
                            f"{rng.randint(1, 9999):04d}",
                     "birth_year": 1990, "region": "EU", "gender": "female",
                     "segment": "retail"})
    rows[1]["customer_id"] = ""                # not_null(customer_id)
    rows[2]["customer_id"] = customer_id(42)   # unique(customer_id): already in the table
    rows[3]["region"] = "LATAM"                # allowed(region, EU|US|APAC)
    rows[4]["birth_year"] = 1850               # range(birth_year, 1900, 2010)
    return rows


def _write(path: Path, fields: tuple[str, ...], rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_bank_data(directory: Path, seed: int = SEED) -> BankFiles:
    """Write customers.csv, transactions.csv and customers_bad.csv into `directory`."""
    rng = random.Random(seed)
    people, payments = generate(rng)
    return BankFiles(
        customers=_write(directory / "customers.csv", CUSTOMER_FIELDS, people),
        transactions=_write(directory / "transactions.csv", TRANSACTION_FIELDS, payments),
        bad_customers=_write(directory / "customers_bad.csv", CUSTOMER_FIELDS,
                             bad_customers(rng)),
    )
