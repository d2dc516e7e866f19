"""Discovery: from the Kubernetes API or from manifests, to an Inventory and its Targets."""

from .inventory import Inventory
from .model import PathRule, SecretInfo, Target, Unreadable, targets_of

__all__ = ["Inventory", "PathRule", "SecretInfo", "Target", "Unreadable", "targets_of"]
