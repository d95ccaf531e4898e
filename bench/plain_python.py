#!/usr/bin/env python3
"""The plainest Python way to fetch and unpack a remote zip, for `cargo xtask bench`.

What a user writes without Ray or any library beyond the standard one:

    data = urllib.request.urlopen(url).read()
    zipfile.ZipFile(io.BytesIO(data)).extractall(dest)

The whole object is held in memory, then every member is inflated and written. No path
checks beyond zipfile's own, no flock, no moving the top-level directory up. `extractall`
does not restore the members' Unix modes (the corpora's `.sh` scripts lose their exec bit):
that is what this path does for its users too, so the bench keeps it.

Prints one JSON line: wall seconds of the call (interpreter start and imports excluded, as
for `ray_path.py`: it can only make this row faster), regular files and their bytes under
DEST, the process's RSS before the call and its peak, in KiB.
"""

import argparse
import io
import json
import os
import resource
import stat
import sys
import time
import urllib.request
import zipfile

from procstat import rss_now_kib


def fetch_and_extract(url, dest):
    data = urllib.request.urlopen(url).read()
    zipfile.ZipFile(io.BytesIO(data)).extractall(dest)


def regular_files(dest):
    """Count and total size of the regular files under `dest`, symlinks not followed."""
    files = 0
    size = 0
    for root, _dirs, names in os.walk(dest):
        for name in names:
            st = os.lstat(os.path.join(root, name))
            if stat.S_ISREG(st.st_mode):
                files += 1
                size += st.st_size
    return files, size


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--dest", required=True)
    args = ap.parse_args()
    before = rss_now_kib()
    started = time.perf_counter()
    fetch_and_extract(args.url, args.dest)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    files, size = regular_files(args.dest)
    print(json.dumps({"wall_s": wall, "files": files, "bytes": size, "rss_before_kib": before, "maxrss_kib": peak, "dir": args.dest}))


if __name__ == "__main__":
    sys.exit(main())
