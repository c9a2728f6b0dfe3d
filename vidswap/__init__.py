"""vidswap: translate video between visual domains with unpaired GANs.

The Python API (see vidswap.api): `vidswap.load`, `vidswap.apply`, `vidswap.batch`, `vidswap.Translator`.
Imported lazily so that `import vidswap` (and the CLI's start-up) stays light.
"""

__version__ = "0.1.0"

_API = {"load", "apply", "batch", "Translator", "TranslatorSettings", "VideoSettings"}


def __getattr__(name: str):
    if name in _API:
        from vidswap import api

        return getattr(api, name)
    raise AttributeError(f"module 'vidswap' has no attribute {name!r}")
