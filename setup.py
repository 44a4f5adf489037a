"""Build the optional C parts (line scanner, UDP receive ring); everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("hamon.parse._scan", ["hamon/parse/_scan.c"], optional=True, extra_compile_args=["-O2"]),
        # Linux: recvmmsg and POSIX threads (elsewhere the Python receive loop is used)
        Extension(
            "hamon.collectors._udpring",
            ["collectors/_udpring.c"],
            optional=True,
            extra_compile_args=["-O2"],
            libraries=["pthread"],
        ),
    ]
)
