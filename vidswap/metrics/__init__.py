"""Measures of translated video: optical-flow helpers and the warping error."""
