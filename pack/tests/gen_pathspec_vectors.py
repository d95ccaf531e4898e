"""Writes tests/data/pathspec_vectors.json: what Ray 2.60's vendored pathspec
(`ray._private.thirdparty.pathspec`, "gitwildmatch") answers for many patterns and paths,
for tests/pathspec_vectors.rs. Run with a Python that has Ray 2.60.0:

    python pack/tests/gen_pathspec_vectors.py > pack/tests/data/pathspec_vectors.json
"""

import json
import sys

import ray
from ray._private.thirdparty.pathspec import PathSpec

# One spec per entry; a list is the lines of one ignore file (last match wins).
SPECS = [
    "*.log", "build/", "/root.txt", "a/b", "a/b/", "a/**/b", "**/c", "a/**", "**", "*",
    ".*", ".", "?", "??", "x?z", "[abc]", "[a-c]x", "[!a]x", "[^a]x", "[]a]", "[!]a]",
    "[a-]", "[-a]", "[\\]]", "a[b", "a\\*b", "\\#x", "\\!x", "#comment", "!", "\\", "/",
    "  padded  ", "\tx\t", "\u001fsep\u001c", "!neg", "dir/*", "dir/*/x", "dir/**/x",
    "*/x", "**/dir/", "/dir/", "a//b", "caf?", "\u65e5*", "*.py[co]", "[z-a]", "***",
    "a**b", "**/", "/**", "x/**/", "[[]", "[&&]", "[a-c-e]", "foo\\", "\ufefffoo",
    ["*.py", "!keep.py"], ["!keep.py", "*.py"], ["foo/", "!foo/keep"], ["foo", "!foo"],
    ["*", "!*.py"], ["# c", "", "   ", "x"], ["a/", "!a/b/", "a/b/c"],
]

PATHS = [
    ".", "root.txt", "x/root.txt", "a.log", "x/a.log", "a.log/x", "build", "build/x",
    "x/build/y", "a/b", "a/b/c", "x/a/b", "a/x/b", "a/x/y/b", "a", "c", "x/c", "x", "xyz",
    "xz", "ab", "a", "b", "ax", "bx", "dx", "]", "]x", "-", "\\]", "]", "a[b", "a*b", "axb",
    "#x", "!x", "padded", "sep", "neg", "dir/a", "dir/a/x", "dir/a/b/x", "dir/x", "y/x",
    "dir", "dir/", "z/dir/q", "a//b", "cafe", "caf\u00e9", "caf\u00e9s", "\u65e5\u672c",
    "m.pyc", "m.pyo", "m.py", "keep.py", "foo/keep", "foo/drop", "foo", "foo/x", "x.py",
    "a/b/c/d", "[", "&", "e", "foo\\", "\ufefffoo", "comment", "#comment", "foo\n",
    "foo\nbar", ".hidden", "x/.hidden", "..", "...",
]


def main():
    vectors = []
    for spec in SPECS:
        lines = spec if isinstance(spec, list) else [spec]
        entry = {"lines": lines}
        try:
            ps = PathSpec.from_lines("gitwildmatch", lines)
        except Exception as e:
            entry["error"] = type(e).__name__
        else:
            entry["matches"] = [p for p in PATHS if ps.match_file(p)]
        vectors.append(entry)
    json.dump({"ray": ray.__version__, "paths": PATHS, "specs": vectors}, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
