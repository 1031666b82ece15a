"""The one place that builds the application from one settings object."""

from __future__ import annotations

from service.application import LoketService
from service.settings import Settings


def build(settings: Settings | None = None, catch_up: bool = True) -> LoketService:
    return LoketService(settings or Settings(), catch_up=catch_up)
