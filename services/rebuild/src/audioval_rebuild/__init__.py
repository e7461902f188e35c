"""audioval rebuild worker: manifest -> verified bytes -> ClassifyService.ValidateTrack."""
