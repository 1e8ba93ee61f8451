"""What feedsvc knows of Hexo: its site config, permalinks and file-name dates, and its
tag plugins. Pure functions; nothing here imports the rest of feedsvc.
"""
