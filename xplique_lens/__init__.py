"""xplique_lens: explain Keras image classifiers the Serre-lab / DEEL way, and build a Lens site."""

__version__ = "0.1.0"

__all__ = ["__version__"]
