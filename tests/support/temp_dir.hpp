#pragma once

// A fresh directory under /tmp for one test, removed with everything in it
// when the fixture goes out of scope.

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace ordo::test {

class temp_dir {
public:
  temp_dir() {
    std::string pattern = "/tmp/ordo-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const noexcept {
    return path_;
  }
  /// A path inside the directory (which does not exist yet).
  std::string sub(const std::string& name) const {
    return path_ + "/" + name;
  }

private:
  std::string path_;
};

} // namespace ordo::test
