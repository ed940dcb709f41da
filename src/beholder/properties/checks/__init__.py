"""Issue checks on the property table: one module per check, one registry.

Importing this package registers the built-in checks: dark, overexposed,
blurry, low_information, grayscale, odd_aspect_ratio and odd_size. See
:mod:`beholder.properties.checks.base` for the contract.
"""

from beholder.properties.checks.base import (
    IssueCheck,
    available_checks,
    get_check,
    register_check,
    run_checks,
)
from beholder.properties.checks.blurry import BlurryCheck
from beholder.properties.checks.dark import DarkCheck
from beholder.properties.checks.grayscale import GrayscaleCheck
from beholder.properties.checks.low_information import LowInformationCheck
from beholder.properties.checks.odd_aspect_ratio import OddAspectRatioCheck
from beholder.properties.checks.odd_size import OddSizeCheck
from beholder.properties.checks.overexposed import OverexposedCheck

__all__ = [
    "BlurryCheck",
    "DarkCheck",
    "GrayscaleCheck",
    "IssueCheck",
    "LowInformationCheck",
    "OddAspectRatioCheck",
    "OddSizeCheck",
    "OverexposedCheck",
    "available_checks",
    "get_check",
    "register_check",
    "run_checks",
]
