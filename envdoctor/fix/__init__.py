"""`envdoctor fix`: plans, transactions with a way back, and version resolution."""
