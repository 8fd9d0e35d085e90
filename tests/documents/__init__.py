"""Real files in every supported format, generated from a text (the letter, CMRC passages) for tests and benchmarks."""
