"""A build directory: writing the documents of a snapshot as files with their manifest,
reading a build back, and following the manifest another process writes.
"""
