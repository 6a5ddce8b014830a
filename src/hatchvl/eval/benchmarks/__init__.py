"""The benchmark readers: `read_benchmark(name, path)` in `readers`, one reader per benchmark (`spar`,
`mindcube`, `mmsi`, `synthetic`), the EvalItem record and benchmark registry (`items`), image sources
(`sources`) and shared field checks (`fields`)."""
