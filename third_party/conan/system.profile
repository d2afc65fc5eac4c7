# Resolve every requirement of conanfile.py to the Debian 12 packages installed on the machine
# (no remote needed). Versions are Debian 12's.
include(default)

[platform_requires]
libjpeg-turbo/2.1.5
libpng/1.6.39
zstd/1.5.4
lz4/1.9.4
nlohmann_json/3.11.2
libcurl/7.88.1
openssl/3.0.19
gtest/1.12.1
