"""The Recycle Bin: retention rules, and images and snapshots kept in the bin."""
