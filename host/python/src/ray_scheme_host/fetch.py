"""The one call that has `scheme-host` fetch a package onto this node.

Both ways in (the RuntimeEnvPlugin fields and the literal-URI shim) come through here, so a
package is fetched, logged and failed the same way whichever API a job used; each caller
keeps only what is its own (where the package goes, locking, installing wheels).
"""

import logging

from ray_scheme_host import hostcli


async def package(uri: str, dest: str, logger: logging.Logger, *, unpack: bool, overwrite: bool = False) -> dict:
    """Unpacks the archive at `uri` into the directory `dest`, or with `unpack=False` stores
    the object as the file `dest` (wheels: pip or Ray install them from the file).

    `overwrite` replaces an existing directory; a file is always replaced, being a scratch
    copy under the caller's lock. Returns the host's JSON answer; raises
    `hostcli.SchemeHostError` with the store's code and request id, which Ray shows as the
    job's failure.
    """
    if unpack:
        result = await hostcli.download_and_unpack(uri, dest, overwrite=overwrite)
    else:
        result = await hostcli.download(uri, dest)
    _log_result(uri, result, logger)
    return result


def _log_result(uri: str, result: dict, logger: logging.Logger) -> None:
    # What an operator needs from the agent's log to tell a cache hit from a transfer.
    if result.get("reused"):
        logger.info("ray_scheme_host: reused %s at %s", uri, result.get("path"))
        return
    logger.info(
        "ray_scheme_host: fetched %s to %s (%s bytes downloaded, %s entries, %s ms)",
        uri,
        result.get("path"),
        result.get("bytes_downloaded"),
        result.get("entries", "-"),
        (result.get("timings_ms") or {}).get("total_ms"),
    )
