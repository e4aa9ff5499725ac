"""keyturn: safe, automatic rotation of AWS IAM user access keys."""

from __future__ import annotations

__version__ = "0.1.0"

import logging as _logging

_logging.getLogger("keyturn").addHandler(_logging.NullHandler())
