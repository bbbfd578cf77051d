"""Extracts a folder archive with python's own readers, as a user's script would: the test then
compares what came out with the folder served. `zipfile` checks every member's CRC-32 first.

usage: read_archive.py FORMAT ARCHIVE DESTINATION   (FORMAT: tar, tar.gz or zip)
"""
import sys
import tarfile
import zipfile

fmt, archive, destination = sys.argv[1:4]
if fmt == "zip":
    with zipfile.ZipFile(archive) as z:
        bad = z.testzip()
        if bad is not None:
            sys.exit(f"bad CRC in {bad}")
        z.extractall(destination)
else:
    with tarfile.open(archive, "r:gz" if fmt == "tar.gz" else "r:") as t:
        for member in t.getmembers():
            if not (member.isfile() or member.isdir()):
                sys.exit(f"unexpected member type: {member.name}")
        t.extractall(destination)
