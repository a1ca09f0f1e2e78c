"""Shared types every room uses: the job request, its geometry and the error codes.

core/ imports nothing else of the package, so image maths, engines and result
writers can depend on it without reaching into the job, wire or server rooms.
"""

from underpaint.core.errors import RETRYABLE, ErrorCode, RequestError
from underpaint.core.geometry import Margins, Rect, Size
from underpaint.core.spec import MODE_FIELDS, JobSpec, Mode, Params

__all__ = [
    "MODE_FIELDS", "RETRYABLE", "ErrorCode", "JobSpec", "Margins", "Mode", "Params", "Rect", "RequestError", "Size",
]
