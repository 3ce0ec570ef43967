"""The trainer: builds, trains, evaluates and exports the sentiment SavedModel."""
