#!/usr/bin/env python3
"""embed_web.py — embed the static files of web/ into the library (the Makefile's rule for
BUILD/gen/web_assets.c): each file as a byte array with its path under /assets/, its content
type and a strong ETag (the first 20 hex digits of its SHA-256), so trmx serve ships its pages
without an install step and a changed file always changes its ETag.
   python3 tools/embed_web.py OUT.c FILE...
"""
import hashlib
import os
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: embed_web.py OUT.c FILE...")
    out, files = argv[0], sorted(argv[1:], key=os.path.basename)
    lines = ["/* Made by tools/embed_web.py from web/: do not edit. */",
             '#include "serve/web_assets.h"', ""]
    entries = []
    for i, path in enumerate(files):
        name = os.path.basename(path)
        ext = os.path.splitext(name)[1]
        if ext not in TYPES:
            sys.exit("embed_web.py: %s: no content type for '%s' files (add it to TYPES)" % (path, ext))
        data = open(path, "rb").read()
        etag = '"%s"' % hashlib.sha256(data).hexdigest()[:20]
        lines.append("static const unsigned char a%d[%d] = {" % (i, len(data) + 1))
        body = data + b"\0"  # a NUL after the bytes (not counted): a page template reads as a string
        for o in range(0, len(body), 20):
            lines.append("\t" + ",".join("0x%02x" % b for b in body[o:o + 20]) + ",")
        lines.append("};")
        entries.append('\t{ "%s", "%s", a%d, %d, "\\"%s\\"" },' % (name, TYPES[ext], i, len(data), etag.strip('"')))
    lines.append("")
    lines.append("const struct web_asset trmx__web_assets[] = {")
    lines += entries
    lines.append("};")
    lines.append("const size_t trmx__web_assets_count = %d;" % len(entries))
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main(sys.argv[1:])
