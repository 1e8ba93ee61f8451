"""Files to articles: front matter, dates, links, article bodies to sanitized feed content.

Pure functions of the bytes and the settings they are given: nothing here reads the disk
or keeps state between calls; a bad file gives `Problem` values, never an exception.
"""
