"""Specialized small models learned from a task's labelled train split: classifiers (TF-IDF, sentence embeddings,
SetFit), the bundled MiniLM's cached embeddings, the train pool, and label-efficiency curves."""
