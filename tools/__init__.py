"""Commands that judge the conformance suite itself (`python -m tools.kill_matrix`)."""
