"""Opens and clicks within Dutch privacy law: anonymous unless a reader agreed."""
