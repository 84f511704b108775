"""The Pulumi program that deploys cek-proxy on a Docker Swarm, one stack per environment.

`__main__.py` wires the components; each component lives in its own module.
"""
