"""The services' HTTP bodies: strict types (a string is not a number), bounded sizes, no unknown fields.

Strictness is what turns bad input into a 422 that names the field, instead of a coerced value or a 500 deeper in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from labkit.events.codec import as_utc

# Ids are short words: letters, digits and - _ . : (customer-7, order-101).
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", examples=["customer-7"])]
# Whole currency units; bounded so sums of many stay exact in 64-bit integers.
Amount = Annotated[int, Field(strict=True, gt=0, le=1_000_000_000_000)]
Limit = Annotated[int, Field(strict=True, ge=0, le=1_000_000_000_000)]
# DuckDB hands back naive UTC timestamps; answers always say they are UTC.
UtcTime = Annotated[datetime, AfterValidator(as_utc)]


def _storable(text: str) -> str:
    """Text that can be stored: JSON lets a request carry a lone surrogate (\\ud800), which is no UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text holds a lone surrogate, which is not a character (no UTF-8 for it)") from None
    return text


def _in_utc_range(moment: datetime) -> datetime:
    """A moment given with an offset, as UTC; one whose UTC time falls outside years 1-9999 is refused (422)."""
    try:
        return as_utc(moment)
    except OverflowError:
        raise ValueError("in UTC this moment falls outside the years 1 to 9999") from None


Text = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$"), AfterValidator(_storable)]
# A moment a client asks about (ISO 8601, any offset), as UTC.
UtcMoment = Annotated[datetime, AfterValidator(_in_utc_range)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CustomerIn(Body):
    """A customer to create; without `customer_id` the service picks one. Repeating a create is harmless."""

    customer_id: Identifier | None = None
    name: Text
    credit_limit: Limit


class CustomerOut(BaseModel):
    """A customer as the Customer service knows it now."""

    customer_id: str
    name: str
    credit_limit: int
    reserved_credit: int
    available_credit: int
    reservations: dict[str, int]
    version: int
    created_at: UtcTime | None


class CustomerBatchIn(Body):
    """Customers to read in one request (API composition reads in batches, never one by one)."""

    customer_ids: Annotated[list[Identifier], Field(max_length=5000)]
    # Only customers created after this moment (ISO 8601; without a zone, UTC) are sent back: the others stay in the
    # service, and are not `missing`. Not strict: JSON has no datetime type, so the moment comes as a string.
    created_after: Annotated[UtcTime | None, Field(strict=False)] = None


class CustomerBatchOut(BaseModel):
    customers: list[CustomerOut]
    missing: list[str]


class CustomerPage(BaseModel):
    customers: list[CustomerOut]
    total: int


class OrderIn(Body):
    """An order to place; without `order_id` the service picks one. Repeating a placement is harmless."""

    order_id: Identifier | None = None
    customer_id: Identifier
    order_total: Amount


class CancelIn(Body):
    reason: Text = "cancelled by the customer"


class OrderOut(BaseModel):
    """An order as the Order service knows it now."""

    order_id: str
    customer_id: str
    order_total: int
    state: str
    version: int
    created_at: UtcTime | None
    updated_at: UtcTime | None


class OrderPage(BaseModel):
    orders: list[OrderOut]
    total: int


class FeedPage(BaseModel):
    """A page of a service's event feed."""

    events: list[dict[str, Any]]
    head_position: int


class Health(BaseModel):
    service: str
    status: str
    backend: Literal["duckdb", "postgres"]  # where the service keeps its database
    pid: int
    head_position: int
    uptime_seconds: float


class ViewRow(BaseModel):
    """One order in the `customer_orders_view`, with its customer's data joined in (empty until it is seen)."""

    order_id: str
    customer_id: str
    customer_name: str | None
    customer_created_at: UtcTime | None
    order_total: int
    state: str
    order_created_at: UtcTime
    state_recorded_at: UtcTime  # when the Order service recorded the current state
    view_updated_at: UtcTime | None  # when this view applied it


class ViewPage(BaseModel):
    rows: list[ViewRow]
    total: int


class ValuableCustomer(BaseModel):
    customer_id: str
    name: str
    created_at: UtcTime
    shipped_orders: int
    shipped_total: int


class ValuableCustomers(BaseModel):
    """The answer to "recent valuable customers", and how it was computed."""

    method: str
    created_after: UtcTime
    min_total: int
    customers: list[ValuableCustomer]
    requests: int
    rows_moved: int
    seconds: float
