"""The Ray a run uses: check that an address answers, join it or start a local Ray, check a trial fits."""

from __future__ import annotations

import logging
import socket
import sys

import ray

from tuner.config.studies import Resources
from tuner.errors import BadInput
from tuner.streams import held_stderr


def check_address(address: str) -> None:
    """Fail at once, in one line, when nothing listens at a HOST:PORT address (ray.init would retry for minutes)."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # "auto" or a "ray://" client address: Ray's own checks apply
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except OSError as error:
        raise _bad_address(address, str(error.strerror or error)) from None


def start_ray(address: str | None) -> bool:
    """Join ``address`` or start a local Ray; True when this call started it (and should stop it)."""
    if ray.is_initialized():
        return False
    # Ray's core writes connection retries straight to stderr (ten seconds of them for a cluster that
    # wants a token): held back, then shown on success or summed up in the one line of a failure
    with held_stderr() as written:
        try:
            ray.init(
                address=address,
                include_dashboard=False,
                logging_level=logging.ERROR,
                log_to_driver=False,
                configure_logging=True,
            )
            error = None
        except (ConnectionError, ValueError, RuntimeError) as failure:
            error = failure
    if error is None:
        sys.stderr.write(written[0])
        return True
    if "InvalidAuthToken" in written[0] or "Unauthenticated" in written[0]:
        raise BadInput(
            "--address",
            None,
            "a Ray cluster that accepts this driver",
            f"{address} (it wants an authentication token)",
            "set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN to the cluster's token, as for any Ray client",
        )
    raise _bad_address(address, str(error).splitlines()[0])


def _bad_address(address: str | None, reason: str) -> BadInput:
    return BadInput("--address", None, "the address of a running Ray cluster (HOST:PORT)", f"{address} ({reason})")


def check_trial_fits(resources: Resources, source: str) -> None:
    """Refuse a per-trial request no node of this Ray could ever hold: Tune would wait for it forever.

    For the Ray a run starts on this machine (or one already started in-process). A cluster joined with
    --address may grow (an autoscaler adds nodes), so there Tune waits, as Ray users expect.
    """
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    wanted = {"CPU": resources.cpu, "GPU": resources.gpu}
    if any(all(node.get(kind, 0.0) >= amount for kind, amount in wanted.items()) for node in nodes):
        return
    for kind, amount in wanted.items():
        most = max((node.get(kind, 0.0) for node in nodes), default=0.0)
        if amount > most:
            raise BadInput(
                source,
                f"resources.{kind.lower()}",
                f"at most the {kind}s this machine's Ray has ({most:g})",
                amount,
                "Tune would wait for them forever; join a bigger cluster with --address",
            )
    raise BadInput(source, "resources", "CPUs and GPUs that one Ray node has together", wanted)
