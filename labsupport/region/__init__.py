"""The offline AWS region: moto in server mode plus the lab's own layer, in one process.

This package is the only place in the project that imports moto. Everything else (the lesson
helpers, the widgets, the notebooks, a learner's terminal) reaches the region as an ordinary AWS
endpoint over HTTP, so the same code runs unchanged against real AWS.

Layout:

- ``protocol``  reads an AWS request of any wire protocol (EC2/query, JSON) and writes AWS-shaped errors.
- ``rules``     the registry of checks and fix-ups that run before moto sees a request.
- ``ec2_rules`` the VPC/subnet/route/gateway/security-group rules AWS enforces and moto skips.
- ``patches``   small corrections to moto's models (route states, default security group ...).
- ``runtime``   the World that runs what moto only stores: ``ecs_engine``, ``apps``, ``health``,
                ``listeners``, ``images``, ``metrics``, ``lambdas``, ``traffic`` (and their moto hooks in
                ``engine_hooks``).
- ``clock``     the region's virtual clock.
- ``control``   the small control API under ``/_lab/`` (status, reset, clock).
- ``app``       the WSGI application that strings these together in front of moto.
- ``server``    the process entry point (``python -m labsupport.region.server``).
"""
