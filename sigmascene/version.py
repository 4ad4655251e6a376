"""The package version, on the ground floor so the compiler can stamp manifests without importing the package face."""

__version__ = "0.1.0"
