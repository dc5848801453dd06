"""Neural-network building blocks, one concept per file."""
