"""The bundled QLoRA pipeline: data, train, eval and export stages run by `envdoctor run`."""
