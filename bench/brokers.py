"""The broker the benchmarks' workers share with the benchmark: a folder (kombu's filesystem
transport), so runs side by side share nothing, and no Redis is needed."""

from pathlib import Path


def filesystem_broker(folder: str, *, polling_interval: float | None = None) -> dict:
    """Celery settings for a broker that is a folder shared by the processes of one machine.
    The transport polls the folder once a second by default; a benchmark that measures delays
    asks for less, or the polling, not the work, would be measured."""
    for sub in ("queue", "control"):
        Path(folder, sub).mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": f"{folder}/queue",
        "data_folder_out": f"{folder}/queue",
        "control_folder": f"{folder}/control",
        "store_processed": False,
    }
    if polling_interval is not None:
        options["polling_interval"] = polling_interval
    return {"broker_url": "filesystem://", "broker_transport_options": options}
