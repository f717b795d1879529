"""The Lens: a static web report of a whole model."""
