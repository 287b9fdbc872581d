"""The platform layer: builds a runtime with every domain loaded, and bootstraps a new
platform (`charter init`). The interfaces (API, CLI) build on it; no domain imports it."""
