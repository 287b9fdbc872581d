"""CLI profiles in CHARTER_HOME/config (INI, mode 0600), chosen like AWS CLI profiles."""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

from charter.errors import Invalid


@dataclass
class Profile:
    name: str
    url: str | None
    token: str | None


def config_path(home: Path) -> Path:
    return home / "config"


def _read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    if path.exists():
        parser.read(path)
    return parser


def load_profile(home: Path, name: str) -> Profile:
    """The named profile, with CHARTER_URL / CHARTER_TOKEN overriding what it holds."""
    parser = _read(config_path(home))
    section = parser[name] if parser.has_section(name) else {}
    url = os.environ.get("CHARTER_URL") or section.get("url") or None
    token = os.environ.get("CHARTER_TOKEN") or section.get("token") or None
    return Profile(name=name, url=url, token=token)


def save_profile(home: Path, profile: Profile) -> Path:
    """Write a profile atomically and keep the file readable by its owner only."""
    if not profile.name or any(c in profile.name for c in "[]\n"):
        raise Invalid(f"invalid profile name {profile.name!r}", code="invalid_profile")
    path = config_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    parser = _read(path)
    if not parser.has_section(profile.name):
        parser.add_section(profile.name)
    parser[profile.name]["url"] = profile.url or ""
    parser[profile.name]["token"] = profile.token or ""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        parser.write(handle)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def list_profiles(home: Path) -> list[Profile]:
    parser = _read(config_path(home))
    return [Profile(s, parser[s].get("url") or None, parser[s].get("token") or None)
            for s in parser.sections()]
