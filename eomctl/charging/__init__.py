"""Layer 3, the charging task: scenarios, the observation builder, the Gymnasium environment and its renderer."""
