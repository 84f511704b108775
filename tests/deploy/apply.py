"""`python -m tests.deploy.apply`: run the Pulumi program against the local Swarm, as `pulumi up` would.

Reads a request on stdin (`tests.support.pulumi_program.program_request` plus `run_id`), applies every
declared resource with `SwarmApplier`, removes what the run no longer declares, and writes the stack
outputs as JSON on stdout; progress goes to stderr. One program run per interpreter (Pulumi's runtime
keeps global state), so each deployment or update is one call.
"""

from __future__ import annotations

import json
import sys
import time

import docker

from tests.deploy.applier import SwarmApplier
from tests.support.pulumi_program import ROOT, run_program


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    request = json.load(sys.stdin)
    started = time.monotonic()
    engine = request["config"].get("dockerHost")  # the stack's engine, as the provider's `host`
    client = (
        docker.DockerClient(base_url=engine, version="auto") if engine else docker.from_env(version="auto")
    )
    applier = SwarmApplier(client, request["run_id"], ROOT, log=_log)
    outputs = run_program(request, applier.monitor)
    applier.prune()
    _log(f"applied stack {request['stack']} in {time.monotonic() - started:.1f}s")
    json.dump({"outputs": outputs}, sys.stdout)


if __name__ == "__main__":
    main()
