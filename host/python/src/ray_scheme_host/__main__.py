"""`python -m ray_scheme_host enable | disable | status | plugins-env | upload`

`enable` also compiles the installed plugins into scheme-host's cache (`--no-precompile`
skips it), so a new node's first job does not pay for that inside its setup.

Run with the Python interpreter that runs Ray on the node (the one `ray start` uses), then
restart Ray on that node so every Ray process starts with the change.

`upload PATH PREFIX` publishes a directory (packed as Ray packs a working_dir) or a file to
a store and prints the URI to put in a runtime_env.
"""

import argparse
import dataclasses
import json
import os
import sys
from typing import List, Optional

from ray_scheme_host import __version__, _hook, compat, hostcli, node_records, pth, publish, runtime_env_upload, schemes, targets


def _host_listing():
    """(listing, None) from the live host, or (None, reason)."""
    try:
        return hostcli.list_schemes(), None
    except hostcli.SchemeHostError as e:
        return None, e


def _host_schemes():
    """(schemes, None) from the live host, or (None, reason)."""
    listing, reason = _host_listing()
    if listing is None:
        return None, reason
    return sorted(schemes.from_listing(listing)), None


def _precompile() -> int:
    """Compiles the installed plugins into the cache; reports what it did."""
    try:
        done = hostcli.precompile()
    except hostcli.SchemeHostError as e:
        print(f"warning: plugins not precompiled ({e}); the first job on this node compiles them instead", file=sys.stderr)
        return 1
    for p in done.get("plugins", []):
        ms = p.get("compile_ms")
        print(f"plugin {p['name']} {p['version']}: " + (f"compiled in {ms} ms" if ms is not None else "already compiled") + f" (cache: {done.get('cache_dir')})")
    return 0


def _support_text(probe: compat.Probe) -> str:
    oldest, newest = compat.minor_text(compat.OLDEST_SUPPORTED), compat.minor_text(compat.NEWEST_TESTED)
    if probe.ray_version is None:
        return "not installed"
    if probe.tested:
        return f"{probe.ray_version} (supported and tested: {oldest} to {newest})"
    release = compat.release_of(probe.ray_version)
    if release is not None and release > compat.NEWEST_TESTED:
        return f"{probe.ray_version} (UNTESTED: newer than {newest}, the newest release tested; supported from {oldest})"
    return f"{probe.ray_version} (not supported: {oldest} to {newest} are)"


def cmd_enable(args) -> int:
    # Everything the shim patches is checked before anything is written: all or nothing.
    probe = compat.probe()
    if probe.refused:
        print(f"error: {probe.refused}", file=sys.stderr)
        return 2
    chosen = schemes.parse_list(args.schemes)
    live, reason = _host_schemes()
    try:
        handled, taken, kept = schemes.plan(chosen, live, probe.ray_schemes, probe.ray_remote_schemes)
    except schemes.PlanError as e:
        hint = ""
        if live is None and not chosen:
            hint = (
                f" ({reason})\nOn a machine that only submits jobs (no scheme-host), name the schemes to "
                "accept: python -m ray_scheme_host enable --schemes obs"
            )
        print(f"error: {e}{hint}", file=sys.stderr)
        return 2
    previous = pth.current_text()
    path = pth.write(chosen)
    check = pth.self_test(probe.layout, handled, kept)
    if check.returncode != 0:
        pth.restore(previous)
        print(f"error: the self-test in a new interpreter failed, nothing changed:\n{check.stderr.strip() or check.stdout.strip()}", file=sys.stderr)
        return 1
    print(f"enabled: {path}")
    if live is not None and not args.no_precompile:
        _precompile()
    print(
        f"Ray {probe.ray_version} now hands these schemes in working_dir/py_modules to scheme-host: "
        + (", ".join(handled) or "(none)")
        + (" (named by --schemes)" if chosen else " (every scheme scheme-host serves that Ray has no path for)")
    )
    for scheme in taken:
        print(f"  {scheme}:// is taken from Ray's own path: its packages are fetched by scheme-host's plugin, into Ray's own package directories")
    if kept:
        print(
            f"Ray keeps its own path for {', '.join(s + '://' for s in kept)} "
            f"(`enable --schemes {','.join(sorted(set(handled) | set(kept)))}` hands it to scheme-host too)"
        )
    if not probe.tested:
        print(
            f"note: Ray {probe.ray_version} is newer than {compat.minor_text(compat.NEWEST_TESTED)}, the newest release "
            "ray-scheme-host was tested with; enabled because everything it patches was found as expected "
            f"({probe.layout.protocol_module}, {probe.layout.packaging_module}, {probe.layout.agent_module})"
        )
    if live is None:
        print(f"(scheme-host is not installed here: {reason}; accepted from --schemes for job submission only)")
    print("Restart Ray on this node (ray stop; ray start ...) so that all its processes pick this up.")
    return 0


def cmd_disable(args) -> int:
    removed = pth.remove()
    if removed:
        print(f"disabled: removed {removed}")
        print("Restart Ray on this node so that all its processes drop the patch.")
    else:
        print(f"already disabled: {pth.pth_path()} does not exist")
    return 0


def scheme_state(enabled: bool, chosen, live, probe: compat.Probe) -> dict:
    """Which schemes Ray hands to scheme-host, and for each of Ray's own schemes that
    scheme-host serves (or that --schemes named) whether it is taken from Ray's path."""
    ray_own = set(probe.ray_remote_schemes)
    if not enabled:
        handled = []
    elif chosen:
        handled = sorted(chosen)
    else:
        handled = sorted(set(live) - set(probe.ray_schemes)) if live is not None else None
    builtin = sorted((set(live or ()) | set(chosen or ())) & ray_own)
    return {
        "chosen": list(chosen) if enabled and chosen else None,
        "handled": handled,
        "builtin_routed": {s: bool(enabled and chosen and s in chosen) for s in builtin},
    }


def status_report() -> dict:
    probe = compat.probe()
    listing, reason = _host_listing()
    live = sorted(schemes.from_listing(listing)) if listing is not None else None
    chosen = pth.chosen_in_file()
    plugins_env = os.environ.get("RAY_RUNTIME_ENV_PLUGINS")
    try:
        binary = hostcli.find_binary()
    except hostcli.SchemeHostError as e:
        binary = None
        reason = reason or e
    return {
        "package_version": __version__,
        "python": sys.executable,
        "ray_version": probe.ray_version,
        "ray_support": {
            "oldest_supported": compat.minor_text(compat.OLDEST_SUPPORTED),
            "newest_tested": compat.minor_text(compat.NEWEST_TESTED),
            "tested": probe.tested,
            "text": _support_text(probe),
        },
        "literal_uris": {
            "pth": pth.pth_path(),
            "enabled": pth.is_enabled(),
            "off_by_env": _hook.disabled_by_env(),
            "refused": probe.refused,
            "layout": dataclasses.asdict(probe.layout) if probe.layout else None,
            "schemes": scheme_state(pth.is_enabled(), chosen, live, probe),
        },
        "uploads": {
            runtime_env_upload.UPLOAD_TO_ENV: os.environ.get(runtime_env_upload.UPLOAD_TO_ENV) or None,
        },
        "scheme_host": {
            "binary": binary,
            "schemes": live,
            "plugin_dir": listing.get("plugin_dir") if listing else None,
            "plugins": [
                {"name": p.get("name"), "version": p.get("version"), "contract_version": p.get("contract_version"), "schemes": p.get("schemes"), "path": p.get("path")}
                for p in (listing or {}).get("plugins", [])
            ],
            "error": str(reason) if live is None else None,
        },
        "plugin_fields": {
            "RAY_RUNTIME_ENV_PLUGINS_in_this_shell": bool(plugins_env)
            and all(c in plugins_env for c in ("SchemeWorkingDirPlugin", "SchemePyModulesPlugin")),
            "value_to_set": node_records.PLUGINS_ENV_VALUE,
        },
    }


def cmd_status(args) -> int:
    report = status_report()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        lit = report["literal_uris"]
        host = report["scheme_host"]
        print(f"ray-scheme-host {report['package_version']} in {report['python']}")
        print(f"Ray: {report['ray_support']['text']}")
        state = "enabled" if lit["enabled"] else "disabled"
        if lit["enabled"] and lit["off_by_env"]:
            state += f", but {targets.OFF_ENV}=off in this environment"
        if lit["enabled"] and lit["refused"]:
            state += ", but REFUSED on this Ray"
        print(f"literal working_dir/py_modules URIs: {state} ({lit['pth']})")
        if lit["layout"]:
            layout = lit["layout"]
            print(f"  patch points found: Protocol in {layout['protocol_module']}, parse_uri in {layout['parse_uri_module']}, "
                  f"download_and_unpack_package in {layout['packaging_module']}, RuntimeEnvAgent in {layout['agent_module']}, "
                  f"the uploads in {layout['working_dir_module']} and {layout['py_modules_module']}")
        elif lit["refused"]:
            print("  " + lit["refused"].replace("\n", "\n  "))
        if lit["enabled"]:
            sch = lit["schemes"]
            where = "named by enable --schemes" if sch["chosen"] else "every scheme scheme-host serves that Ray has no path for"
            handled = ", ".join(sch["handled"]) if sch["handled"] is not None else "(unknown: scheme-host unavailable)"
            print(f"  handed to scheme-host: {handled or '(none)'} ({where})")
        for scheme, routed in lit["schemes"]["builtin_routed"].items():
            if routed:
                print(f"  Ray's built-in {scheme}://: routed through scheme-host's {scheme} plugin (enable --schemes)")
            else:
                print(f"  Ray's built-in {scheme}://: Ray's own path (not routed; `enable --schemes ...,{scheme}` routes it)")
        upload_to = report["uploads"][runtime_env_upload.UPLOAD_TO_ENV]
        print(
            "local working_dir/py_modules: "
            + (f"uploaded through scheme-host to {upload_to} ({runtime_env_upload.UPLOAD_TO_ENV} in this shell)" if upload_to
               else f"uploaded by Ray to its GCS ({runtime_env_upload.UPLOAD_TO_ENV} not set in this shell)")
        )
        if host["schemes"] is not None:
            print(f"scheme-host: {host['binary']} serves: {', '.join(host['schemes']) or '(nothing)'}")
            print(f"plugins in {host['plugin_dir']}:")
            for p in host["plugins"]:
                print(f"  {p['name']} {p['version']} (contract {p['contract_version']}): {', '.join(p['schemes'] or [])}  {p['path']}")
        else:
            print(f"scheme-host: unavailable: {host['error']}")
        ok = report["plugin_fields"]["RAY_RUNTIME_ENV_PLUGINS_in_this_shell"]
        print(f"plugin fields (scheme_working_dir/scheme_py_modules): RAY_RUNTIME_ENV_PLUGINS {'set' if ok else 'not set'} in this shell")
    healthy = report["scheme_host"]["schemes"] is not None and not (
        report["literal_uris"]["enabled"] and report["literal_uris"]["refused"]
    )
    return 0 if healthy else 1


def cmd_plugins_env(args) -> int:
    print(node_records.PLUGINS_ENV_VALUE)
    return 0


def cmd_upload(args) -> int:
    try:
        done = publish.publish_path(args.path, args.prefix, excludes=args.exclude, include_parent_dir=args.include_parent_dir)
    except publish.UploadError as e:
        if args.json:
            print(json.dumps({"ok": False, "error": {"kind": e.kind, "message": str(e), "store_code": e.store_code,
                                                     "request_id": e.request_id, "http_status": e.http_status}}))
        print(f"error: {e}", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(done.answer))
        return 0
    print(done.uri)
    figures = ", ".join(f"{v} {k}" for k, v in (("files", done.files), ("bytes", done.bytes)) if v is not None)
    print(("uploaded" if done.uploaded else "already in the store") + (f" ({figures})" if figures else ""), file=sys.stderr)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ray_scheme_host", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    enable = sub.add_parser("enable", help="make this interpreter's Ray accept scheme-host URIs in working_dir/py_modules")
    enable.add_argument(
        "--schemes",
        help="comma-separated schemes Ray hands to scheme-host, exactly these (default: every scheme scheme-host "
        "serves that Ray has no path for). Naming one of Ray's own (s3) takes it from Ray's path too. Required "
        "where scheme-host is not installed (machines that only submit jobs)",
    )
    enable.add_argument(
        "--no-precompile",
        action="store_true",
        help="do not compile the installed plugins into the cache now (the first job then does)",
    )
    enable.set_defaults(func=cmd_enable)
    sub.add_parser("disable", help="undo enable").set_defaults(func=cmd_disable)
    status = sub.add_parser("status", help="show what is enabled and what scheme-host serves")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    sub.add_parser("plugins-env", help="print the RAY_RUNTIME_ENV_PLUGINS value for the plugin fields").set_defaults(
        func=cmd_plugins_env
    )
    upload = sub.add_parser(
        "upload",
        help="upload a directory (packed as Ray packs a working_dir, as PREFIX/_ray_pkg_<hash>.zip) or a file "
        "(as PREFIX/<name>) through scheme-host; prints the URI for the runtime_env",
    )
    upload.add_argument("path", metavar="DIR|FILE")
    upload.add_argument("prefix", metavar="URI-PREFIX", help="e.g. obs://bucket/jobs/")
    upload.add_argument("--exclude", action="append", default=[], metavar="PATTERN", help="gitignore-style pattern to leave out (repeatable)")
    upload.add_argument(
        "--include-parent-dir",
        action="store_true",
        help="keep the directory's own name inside the package (py_modules: `import DIRNAME` works from it)",
    )
    upload.add_argument("--json", action="store_true", help="print scheme-host's JSON answer instead of the URI")
    upload.set_defaults(func=cmd_upload)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
