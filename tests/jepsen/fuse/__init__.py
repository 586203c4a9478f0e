"""lazyfs: our FUSE file system that loses what was not fsynced.

Per node, the harness mounts it over the node's data dir (one process per
node, `python -m tests.jepsen.fuse`), passing through to a backing directory
while file data waits in the fs's own page cache until fsync; on the
lose-unfsynced nemesis's command it drops everything not yet durable.
Modules: pagecache (file data), journal (undo of directory changes),
ops (the pyfuse3 file system), server (the process), control (the harness's
side: start, drop, stop, availability check).
"""
