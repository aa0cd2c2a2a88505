"""Layer 10, the reproduce command: parts, the runner, the HTML report and the results blocks of README and docs."""
