"""vidswap: translate video between visual domains with unpaired GANs."""

__version__ = "0.1.0"
