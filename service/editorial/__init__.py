"""The editorial side: accounts now; year plan, issues and approval later."""
