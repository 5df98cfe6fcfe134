// Mattes a synthetic frame (a bright disc on a gradient) and prints what the session reports.
//   minimal MODEL
#include <mattecast/mattecast.h>

#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MODEL\n", argv[0]);
    return 2;
  }
  try {
    const auto model = mattecast::Model::load(argv[1]);
    mattecast::Session session(model, {.threads = 2});
    const int width = 320, height = 180;
    std::vector<uint8_t> rgb(size_t(width) * height * 3);
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        const bool disc = (x - 160) * (x - 160) + (y - 100) * (y - 100) < 60 * 60;
        uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
        p[0] = disc ? 220 : uint8_t(x / 2), p[1] = disc ? 180 : uint8_t(y), p[2] = 90;
      }
    mattecast::Matte matte;
    for (int frame = 0; frame < 3; ++frame)
      session.process({rgb.data(), width, height, width * 3}, matte);
    double sum = 0;
    for (const float a : matte.alpha) sum += a;
    std::printf("%s\nmatte %dx%d, mean alpha %.4f, precision %s\n",
                mattecast::version_string().c_str(), matte.width, matte.height,
                sum / double(matte.alpha.size()), mattecast::to_string(session.params().precision));
    return 0;
  } catch (const mattecast::Error& e) {
    std::fprintf(stderr, "minimal: %s\n", e.what());
    return 1;
  }
}
