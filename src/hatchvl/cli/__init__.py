"""The `hatchvl` command line. Parsing and calling only; the work lives in the library layers."""
