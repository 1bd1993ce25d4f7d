"""ami lifecycle: retention that never removes an image in use (docs/lifecycle.md)."""
