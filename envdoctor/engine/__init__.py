"""The rule engine: the knowledge base, rule selection and evaluation, reports, `check` itself."""
