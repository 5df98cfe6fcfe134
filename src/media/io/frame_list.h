// The images of a folder in natural name order (frame2 before frame10).
#pragma once

#include <string>
#include <vector>

namespace mattecast {

bool natural_less(const std::string& a, const std::string& b);
std::vector<std::string> list_images(const std::string& folder);  // throws if none

}  // namespace mattecast
