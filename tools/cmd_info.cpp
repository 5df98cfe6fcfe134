#include <fmt/format.h>

#include "commands.h"
#include "mattecast/mattecast.h"

namespace mattecast::cli {

void add_info_command(CLI::App& app) {
  auto* command = app.add_subcommand("info", "Describe a model file");
  auto path = std::make_shared<std::string>();
  command->add_option("MODEL", *path, "A .pth state_dict or a TF.js model.json")->required();
  command->callback([path] {
    const auto model = Model::load(*path);
    const ModelInfo& info = model->info();
    fmt::print("model:       {}\n", info.path);
    fmt::print("format:      {}\n", info.format == "pth" ? "pth (PyTorch state_dict)"
                                                         : "tfjs (TF.js graph model, uint8)");
    fmt::print("tensors:     {}\n", info.tensor_count);
    fmt::print("parameters:  {}\n", info.parameter_count);
    fmt::print("refiner:     {}\n", to_string(info.refiner));
  });
}

}  // namespace mattecast::cli
