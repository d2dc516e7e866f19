"""Load and disruption measurement: an open-loop fixed-rate prober (no locust, no gevent here)."""
