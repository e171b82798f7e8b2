"""The hardware a plan targets: GPU profiles (memory, peaks, bandwidth, power), detection."""
