"""CrossGuard policy pack for the cek-proxy Pulumi program, and the stack-config pre-check.

`rules.ALL_POLICIES` are the policies; `__main__.py` only serves them to the Pulumi engine;
`check_config` is the pre-check CI runs on `Pulumi.yaml` and the `Pulumi.<stack>.yaml` files.
"""
