"""The chart files: the submission format (`submission`: structural checks; `writer`: writing an
`upload_package.nc`), the reference charts (`reference`) and their safe reading (`storage`
checks a file before anything reads it, `chart_reader` reads rows in blocks, `raw_chunks`
decompresses netCDF-4 chunks directly), and the uncertainty and probabilities files beside a
submission (`uncertainty`: checked like one)."""
