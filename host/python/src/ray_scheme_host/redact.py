"""Last line of defence against secrets in text we pass on to Ray.

`scheme-host` promises never to print a credential, but its stderr and messages end up in
job status, agent logs and the dashboard, so anything we forward is scrubbed of the values
of secret-looking environment variables of this process.
"""

import os
import re
from typing import Mapping, Optional

# Names whose values must never be shown (OBS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, ...).
_SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|ACCESS_KEY|PRIVATE_KEY|(^|_)SK$", re.I)
# Short values ("1", "true") would blank out unrelated text without protecting anything.
_MIN_SECRET_LEN = 6
REDACTED = "***"


def secret_values(environ: Optional[Mapping[str, str]] = None) -> list:
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN}
    # Longest first so a secret containing another is replaced whole.
    return sorted(values, key=len, reverse=True)


def redact(text: str, environ: Optional[Mapping[str, str]] = None) -> str:
    for value in secret_values(environ):
        text = text.replace(value, REDACTED)
    return text
