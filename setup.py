"""Build the optional C line scanner; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("hamon.parse._scan", ["hamon/parse/_scan.c"], optional=True, extra_compile_args=["-O2"]),
    ]
)
