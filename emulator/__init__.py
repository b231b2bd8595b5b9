"""orderflow's embedded AWS emulator: run the pipelines end to end without AWS."""
