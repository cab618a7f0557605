"""The one way to get a Temporal client: always with the pydantic data converter.

>>> client = await connect_temporal(load_settings())
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from core.settings import Settings

DATA_CONVERTER: DataConverter = pydantic_data_converter


async def connect_temporal(settings: Settings, *, identity: str | None = None) -> Client:
    """Connect to the namespace the settings name, with the project's data converter."""
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        tls=settings.temporal_tls or api_key is not None,
        api_key=api_key,
        identity=identity,
    )
