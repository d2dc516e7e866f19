"""The conformance suites: one test per (check ID, target) of every installed probe, built-in or
third-party, generated from the probes' declarations, e.g. ``tls.expiry[demo/shop/shop.apps.test]``
or ``exposure.lb_reachable[cluster]``. Each probe's name is a marker (``-m "tls or routing"``);
probes that change the cluster are marked ``mutating`` and run only with --allow-mutations.

    pytest suites --profile .lab/profile.yaml
"""

from ingresscheck.pytest_plugin import CheckSuite

checks = CheckSuite()
