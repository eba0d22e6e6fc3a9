"""Monolith, shared database and database per service: the "recent valuable customers" query four ways."""

from labkit.layouts.errors import (
    LayoutError,
    MethodsDisagreeError,
    ServiceOfflineError,
    UnknownEntityError,
)
from labkit.layouts.layout import (
    LayoutFiles,
    PerServiceLayout,
    SharedLayout,
    build_layouts,
    open_per_service,
    open_shared,
)
from labkit.layouts.services import CustomerService, OrderService

__all__ = [
    "CustomerService",
    "LayoutError",
    "LayoutFiles",
    "MethodsDisagreeError",
    "OrderService",
    "PerServiceLayout",
    "ServiceOfflineError",
    "SharedLayout",
    "UnknownEntityError",
    "build_layouts",
    "open_per_service",
    "open_shared",
]
