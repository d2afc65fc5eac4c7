"""Conan 2 recipe for chute's native dependencies (ConanCenter names).

Where ConanCenter is reachable: `conan install . --build=missing` then configure with the
generated conan_toolchain.cmake. Offline, a profile whose [platform_requires] names the system
versions (see third_party/conan/system.profile) makes `conan install` resolve everything to
the machine's own packages; CI does exactly that (tests/test_build_conan.py).
"""
import os
import re

from conan import ConanFile
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout


class ChuteConan(ConanFile):
    name = "chute"
    settings = "os", "compiler", "build_type", "arch"
    options = {"with_tests": [True, False]}
    default_options = {"with_tests": True}

    def set_version(self):
        # python/chute/_version.py is the one place the version is written
        with open(os.path.join(self.recipe_folder, "python", "chute", "_version.py")) as f:
            self.version = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)

    def requirements(self):
        self.requires("libjpeg-turbo/[>=2.1 <4]")
        self.requires("libpng/[>=1.6 <2]")
        self.requires("zstd/[>=1.5 <2]")
        self.requires("lz4/[>=1.9 <2]")
        self.requires("nlohmann_json/[>=3.10 <4]")
        self.requires("libcurl/[>=7.68 <9]")
        self.requires("openssl/[>=1.1 <4]")
        if self.options.with_tests:
            self.requires("gtest/[>=1.12 <2]")

    def layout(self):
        cmake_layout(self)

    def generate(self):
        CMakeDeps(self).generate()
        tc = CMakeToolchain(self)
        tc.cache_variables["CHUTE_BUILD_TESTS"] = bool(self.options.with_tests)
        tc.cache_variables["CHUTE_BUILD_PYTHON"] = False
        tc.user_presets_path = False
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()
