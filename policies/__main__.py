"""The pack as the Pulumi engine runs it (`pulumi preview --policy-pack policies`): serve ALL_POLICIES.

The engine runs this file with the pack folder as the working directory and on `sys.path`; the
repository root is put there too so that `policies` imports as the package the tests use.
`PolicyPack(...)` serves gRPC and never returns, so nothing may import this module.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.rules import ALL_POLICIES

PolicyPack(name="cek-proxy-policies", enforcement_level=EnforcementLevel.MANDATORY, policies=ALL_POLICIES)
