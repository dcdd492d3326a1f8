"""Two ways to validate the product callback's body, measured by benchmarks/openapi_validation.py
(folders of an ``app.py`` each, as a function's CodeUri; no table, only the request's own work)."""
