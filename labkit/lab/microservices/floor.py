"""The HTTP floor of `labkit bench services`: how many orders/s one service process could accept if placing an order
cost nothing but the HTTP request itself.

A FastAPI app whose POST /orders only parses the body and echoes it, served by uvicorn as the services are, loaded by
the same client at the same concurrency. No service can accept orders faster than this on the machine, and the
real path costs more: the Customer and Order services run the saga and the history service keeps its view, all on
the same cores. Run as `python -m labkit.lab.microservices.floor --port P`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import httpx
import orjson
import uvicorn
from fastapi import FastAPI, Request, Response

from labkit.services.client import LabClient
from labkit.services.errors import ServiceStartError
from labkit.services.load import place_orders
from labkit.services.process_runner import HOST, free_port

app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})


@app.post("/orders")
async def place(request: Request) -> Response:
    body = orjson.loads(await request.body())
    return Response(orjson.dumps({**body, "state": "PENDING"}), status_code=201, media_type="application/json")


def measure_floor(*, orders: int, concurrency: int) -> float:
    """Orders/s the no-op service accepts from the benchmark's client (started and stopped here)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "labkit.lab.microservices.floor", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/docs", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise ServiceStartError("the no-op service for the HTTP floor did not start") from None
                time.sleep(0.05)
        plan = [(f"order-{i}", f"customer-{i % 100}", 1) for i in range(orders)]
        with LabClient({"order": url}) as client:
            accepted, _, seconds = place_orders(client, plan, concurrency=concurrency)
        return len(accepted) / seconds
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    uvicorn.run(app, host=HOST, port=port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
