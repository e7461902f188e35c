"""The shared audio model: what a track is, what its bytes and samples say, and the verdict."""
