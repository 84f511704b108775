"""A virtual CLOVA: builds and signs real CEK requests, keeps the session, and tests conversations.

Behind the `simulate`, `dev-key`, `test` and `selftest` commands of `cek-proxy` (see README).
"""
