"""propcheck's verifier: tag codes, barcode decoding and the verdict rules.

Pure code: no HTTP, no SQL. The API and the CLI are adapters around it.
"""
