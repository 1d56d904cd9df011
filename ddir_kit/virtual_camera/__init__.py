"""The virtual zoom camera: a breathing, distorting, vignetting zoom lens on a wobbling tripod
that photographs a checkerboard and walls of real photographs, writing camera cards, calibration
sweeps and capture folders together with their exact truth (truth.json). Used by the demo, the
CLI's `capture simulate`, the tests and the benchmarks; no stage of the flow imports it."""
