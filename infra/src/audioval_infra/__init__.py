"""audioval infrastructure as Pulumi components."""
