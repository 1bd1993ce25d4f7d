"""botocore's service models, loaded once per process."""

from functools import cache

import botocore.loaders
from botocore.model import ServiceModel


@cache
def service_model(service: str) -> ServiceModel:
    loader = botocore.loaders.create_loader()
    return ServiceModel(loader.load_service_model(service, "service-2"), service_name=service)
