"""Reload latency: how long the controller takes to apply an Ingress change, and what existing
traffic suffers meanwhile. ``canary`` makes the changes and times them; ``campaign`` runs rounds
with the open-loop prober (and optional background load) and turns them into figures."""

# what each kind of canary is called in verdicts and reports (`--kind ingress,httproute`)
KIND_LABEL = {"ingress": "Ingress", "httproute": "HTTPRoute"}
