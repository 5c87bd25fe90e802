"""The public archive: sent issues as web pages, theme pages and the Atom feed."""
