"""`envdoctor reproduce RECORD`: rebuild a recorded run, re-train it, and say whether it matches."""
