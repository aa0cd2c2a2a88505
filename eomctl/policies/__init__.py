"""Layer 4, the controllers: the policy protocol, the baseline chargers, trained models, specs, and the one episode
loop."""
