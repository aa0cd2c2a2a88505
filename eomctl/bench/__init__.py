"""Layer 9, measurements of speed and agreement: eomctl against PyBaMM (simulator, env, cycling), training
throughput; ``benchmarks/`` prints them and the reproduce command records them."""
