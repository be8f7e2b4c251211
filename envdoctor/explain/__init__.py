"""`envdoctor explain`: read an error log and name the rule, the cause and the fix."""
