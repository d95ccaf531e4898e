"""What the bench's Python rows report about their own process. Standard library only and
importing nothing else, so a row that imports it loads no more than it needs."""


def rss_now_kib():
    """The process's resident set size now, in KiB (0 where /proc is not there)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
