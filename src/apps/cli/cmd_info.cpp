#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "mattecast/mattecast.h"

namespace mattecast::cli {

namespace {

const char* describe_format(const std::string& format) {
  if (format == "pth") return "pth (PyTorch state_dict)";
  if (format == "tfjs") return "tfjs (TF.js graph model, uint8)";
  return "tflite (a light segmentation network: a person mask per frame)";
}

void print_model(const std::string& name, const std::string& input_convention) {
  const auto model = Model::load(find_model(name), input_convention);
  const ModelInfo& info = model->info();
  fmt::print("model:       {}\n", info.path);
  fmt::print("format:      {}\n", describe_format(info.format));
  fmt::print("tensors:     {}\n", info.tensor_count);
  fmt::print("parameters:  {}\n", info.parameter_count);
  if (info.format != "tflite") {
    fmt::print("refiner:     {}\n", to_string(info.refiner));
    return;
  }
  fmt::print("name:        {}\n", info.short_name.empty() ? "(not a shipped model)" : info.short_name);
  fmt::print("input:       {}x{} RGB{}\n", info.input_width, info.input_height,
             info.input_convention.ends_with(",prior") ? " and its own last mask" : "");
  fmt::print("convention:  {}{}\n", info.input_convention,
             info.convention_known ? ""
                                   : " (assumed: an unknown file; pass --model-input if its "
                                     "training used another)");
}

void print_cpu() {
  const CpuInfo cpu = cpu_info();
  std::vector<std::string> runnable, precisions;
  for (CpuTier tier = CpuTier::baseline; tier <= cpu.detected; tier = CpuTier(int(tier) + 1))
    runnable.emplace_back(to_string(tier));
  for (const Precision precision : {Precision::fp32, Precision::bf16, Precision::int8})
    if (precision_supported(precision)) precisions.emplace_back(to_string(precision));
  fmt::print("cpu:         {}\n", cpu.model_name.empty() ? "unknown" : cpu.model_name);
  fmt::print("tier:        {}{}\n", to_string(cpu.active),
             cpu.active == cpu.detected
                 ? ""
                 : fmt::format(" (capped by MATTECAST_ISA; the CPU's tier is {})",
                               to_string(cpu.detected)));
  fmt::print("runnable:    {}\n", fmt::join(runnable, " "));
  fmt::print("flags:       {}\n", fmt::join(cpu.flags, " "));
  fmt::print("oneDNN:      {} running {}\n", cpu.onednn_version, cpu.onednn_isa);
  fmt::print("precisions:  {}\n", fmt::join(precisions, " "));
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto* command = app.add_subcommand("info", "Describe a model file, or this CPU (--cpu)");
  auto path = std::make_shared<std::string>();
  auto input_convention = std::make_shared<std::string>();
  auto cpu = std::make_shared<bool>(false);
  command->add_option("MODEL", *path,
                      "A .pth state_dict, a TF.js model.json, a .tflite or a shipped light "
                      "model's short name (selfie, selfie-landscape, munet, mnv3, prisma, slim, "
                      "portrait-video)");
  command->add_option("--model-input", *input_convention,
                      "A .tflite's input convention, as for video");
  command->add_flag("--cpu", *cpu,
                    "The CPU's tier (baseline, avx2, avx512, amx), the tier in force, its "
                    "features, oneDNN's ISA and the precisions it computes");
  command->callback([path, input_convention, cpu] {
    if (path->empty() && !*cpu) throw UsageError("info: name a MODEL, or pass --cpu");
    if (*cpu) print_cpu();
    if (!path->empty()) print_model(*path, *input_convention);
  });
}

}  // namespace mattecast::cli
