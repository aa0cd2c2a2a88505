"""Layer 6, the entropy analytics: EOM metrics, the entropy-impedance bridge, features, real data sets and
prognostics."""
